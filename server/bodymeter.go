package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
)

// meter reserves, from a process-wide [memBudget], the memory each request
// message will take before Connect reads it: HTTP middleware between the
// authenticator and Connect that reads every request body through a
// [meteredBody]. A message costs its wire bytes twice (the meter's or
// Connect's buffer, and the decoded message that points into or copies
// them) and, when compressed, its wire bytes once more and its
// decompressed bytes twice: Connect's buffer of them and the message. The
// decompressed size of a compressed message is measured before Connect
// inflates it, without keeping the inflated bytes; a zstd message whose
// frame declares its size is instead decompressed here, once, into a
// buffer reserved at that size, and handed on uncompressed.
type meter struct {
	budget *memBudget
	sizer  *sizer
	errs   *connect.ErrorWriter
	// limit returns the largest message, after decompression, that the
	// handler of a URL path reads.
	limit func(path string) int64
	// clientStreams are the procedures whose requests are streams of
	// messages, each with the most bytes its handler keeps of a message
	// while it waits for the next (an Upload stream's decoding buffer):
	// the reservation of a message shrinks to that when the handler asks
	// for the next. Any other request keeps its reservation until it is
	// answered, as its handler holds its one message throughout.
	clientStreams map[string]int64
}

// wrap returns next behind the meter.
func (m *meter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := m.limit(r.URL.Path)
		if r.Method == http.MethodGet {
			// Connect's GET carries the message in the query, which the
			// HTTP server has already read: only its decompression is
			// left to bound, and it cannot be measured cheaply here.
			cost := 2 * int64(len(r.URL.RawQuery))
			if c := r.URL.Query().Get("compression"); c != "" && c != "identity" {
				cost = 2 * limit
			}
			got, err := m.budget.acquire(r.Context(), cost)
			if err != nil {
				_ = m.errs.Write(w, r, err)
				return
			}
			defer m.budget.release(got)
			next.ServeHTTP(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		b := &meteredBody{
			body:   r.Body,
			ctx:    r.Context(),
			budget: m.budget,
			sizer:  m.sizer,
			limit:  limit,
			length: r.ContentLength,
		}
		switch {
		case enveloped(ct, "application/grpc"), enveloped(ct, "application/grpc-web"):
			b.enveloped, b.encoding = true, r.Header.Get("Grpc-Encoding")
		case strings.HasPrefix(ct, "application/connect+"):
			b.enveloped, b.encoding = true, r.Header.Get("Connect-Content-Encoding")
		default: // Connect unary
			b.encoding = r.Header.Get("Content-Encoding")
		}
		b.kept, b.streaming = m.clientStreams[r.URL.Path]
		if b.encoding == "identity" {
			b.encoding = ""
		}
		defer b.releaseAll()
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

// enveloped reports whether the content type ct is base or base+codec:
// gRPC's and gRPC-Web's binary framings, and not gRPC-Web's base64 text,
// which Connect does not serve and whose bytes are metered as they pass.
func enveloped(ct, base string) bool {
	rest, ok := strings.CutPrefix(ct, base)
	return ok && (rest == "" || strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, ";"))
}

// meteredBody is a request body that reserves the memory of each message
// before it hands the message's bytes on (see [meter]). It is used by one
// goroutine at a time, Connect's reader of the request.
type meteredBody struct {
	body      io.ReadCloser
	ctx       context.Context
	budget    *memBudget
	sizer     *sizer
	limit     int64
	encoding  string // "" when the messages are not compressed
	enveloped bool   // gRPC, gRPC-Web or Connect streaming framing
	streaming bool
	kept      int64 // of a streamed message, held between messages
	length    int64 // Content-Length, -1 if unknown

	held      int64  // bytes reserved
	last      int64  // decoded size of the last message
	pending   []byte // bytes read ahead, to hand on before reading more
	remaining int64  // bytes of the current uncompressed message still in body
	started   bool   // a unary body has been looked at
	err       error  // sticky
}

// Read hands on the body, reserving each message's memory first.
func (b *meteredBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	if !b.enveloped {
		return b.readUnary(p)
	}
	if b.remaining > 0 {
		n, err := b.body.Read(p[:min(int64(len(p)), b.remaining)])
		b.remaining -= int64(n)
		if errors.Is(err, io.EOF) && b.remaining > 0 {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if err := b.nextEnvelope(); err != nil {
		return 0, err
	}
	return b.Read(p)
}

// nextEnvelope reads the prefix of the next enveloped message and
// reserves its memory; a compressed message is read whole and measured.
func (b *meteredBody) nextEnvelope() error {
	if b.streaming {
		// Asking for the next message means the handler is done with the
		// last one, but for what it keeps of it.
		keep := min(b.held, b.last, b.kept)
		b.budget.release(b.held - keep)
		b.held = keep
	}
	var prefix [5]byte
	if _, err := io.ReadFull(b.body, prefix[:]); err != nil {
		return err // io.EOF between messages is the clean end
	}
	size := int64(binary.BigEndian.Uint32(prefix[1:]))
	if size > b.limit {
		return b.fail(connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("message size %d exceeds the server's limit of %d bytes", size, b.limit)))
	}
	if prefix[0]&1 == 0 || b.encoding == "" {
		if err := b.reserve(2 * size); err != nil {
			return err
		}
		b.pending = prefix[:]
		b.remaining = size
		b.last = size
		return nil
	}
	if err := b.reserve(size); err != nil {
		return err
	}
	buf := make([]byte, 5+size)
	copy(buf, prefix[:])
	if _, err := io.ReadFull(b.body, buf[5:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b.encoding == engine.CompressionZstd {
		if done, err := b.inflateDeclared(prefix[0], buf[5:]); done || err != nil {
			return err
		}
	}
	if err := b.reserveDecompressed(buf[5:]); err != nil {
		return err
	}
	b.pending = buf
	return nil
}

// inflateDeclared decompresses a zstd message whose frame declares its
// size into a buffer reserved at that size, and hands it on in an
// envelope without the compressed flag, which Connect accepts within a
// compressed stream: the message is decompressed once, here, rather than
// measured here and decompressed again by Connect. It then costs its
// decompressed bytes three times: this buffer, Connect's copy and the
// message. It reports false, holding no more than before, for a message
// it leaves to be measured: one without a declared size, or whose data
// does not decompress to exactly that size.
func (b *meteredBody) inflateDeclared(flags byte, data []byte) (bool, error) {
	d, ok := zstdContentSize(data)
	if !ok {
		return false, nil
	}
	if d > b.limit {
		return false, b.fail(errInflatedTooLarge(b.limit))
	}
	before := b.held
	if err := b.reserve(3 * d); err != nil {
		return false, err
	}
	out := make([]byte, 5+d)
	if !b.sizer.inflate(b.encoding, data, out[5:]) {
		b.budget.release(b.held - before)
		b.held = before
		return false, nil
	}
	out[0] = flags &^ 1
	binary.BigEndian.PutUint32(out[1:5], uint32(d))
	b.pending = out
	b.last = d
	return true, nil
}

// readUnary hands on the body of a Connect unary request. An uncompressed
// body is reserved as it passes; a compressed one is read whole (it is at
// most limit bytes, as Connect's own check would have it) and measured.
func (b *meteredBody) readUnary(p []byte) (int, error) {
	if b.encoding == "" {
		if !b.started && b.length >= 0 {
			b.started = true
			if err := b.reserve(2 * min(b.length, b.limit+1)); err != nil {
				return 0, err
			}
		}
		if b.length >= 0 {
			return b.body.Read(p)
		}
		want := 2 * int64(len(p))
		if err := b.reserve(want); err != nil {
			return 0, err
		}
		n, err := b.body.Read(p)
		b.budget.release(want - 2*int64(n))
		b.held -= want - 2*int64(n)
		return n, err
	}
	if b.started {
		return 0, io.EOF
	}
	b.started = true
	var buf []byte
	for {
		if int64(len(buf)) > b.limit {
			return 0, b.fail(connect.NewError(connect.CodeResourceExhausted,
				fmt.Errorf("compressed message exceeds the server's limit of %d bytes", b.limit)))
		}
		chunk := min(b.limit+1-int64(len(buf)), 32<<10)
		if err := b.reserve(chunk); err != nil {
			return 0, err
		}
		buf = slices.Grow(buf, int(chunk))
		n, err := io.ReadFull(b.body, buf[len(buf):len(buf)+int(chunk)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := b.reserveDecompressed(buf); err != nil {
		return 0, err
	}
	b.pending = buf
	return b.Read(p)
}

// reserveDecompressed measures the compressed message data and reserves
// Connect's copy of it, its decompressed bytes and its decoded message.
func (b *meteredBody) reserveDecompressed(data []byte) error {
	d, err := b.sizer.size(b.encoding, data, b.limit)
	if err != nil {
		return b.fail(err)
	}
	b.last = d
	return b.reserve(int64(len(data)) + 2*d)
}

// reserve adds n bytes to the body's reservation, or fails the body. The
// reservation of one body never exceeds the whole budget, so that a
// request larger than the budget waits to be served alone rather than
// forever.
func (b *meteredBody) reserve(n int64) error {
	got, err := b.budget.acquire(b.ctx, min(n, b.budget.size-b.held))
	b.held += got
	if err != nil {
		return b.fail(err)
	}
	return nil
}

// fail makes err the answer to every later Read.
func (b *meteredBody) fail(err error) error {
	b.err = err
	b.pending = nil
	return err
}

// releaseAll returns the body's reservation, once its request is
// answered.
func (b *meteredBody) releaseAll() {
	b.budget.release(b.held)
	b.held = 0
}

// Close closes the underlying body.
func (b *meteredBody) Close() error {
	return b.body.Close()
}
