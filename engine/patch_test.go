package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"testing"
)

func TestPatcherRejectsHostileOps(t *testing.T) {
	base := randomBytes(2500, 30) // 3 blocks of 1024, the last 452 bytes
	layout := Layout{BlockSize: 1024, FileSize: 2500}
	tests := []struct {
		name string
		op   Op
		want error
	}{
		{"zero op", Op{}, ErrInvalidOp},
		{"unknown kind", Op{Kind: 4, Data: []byte("x")}, ErrInvalidOp},
		{"zeros count zero", Op{Kind: OpZeros}, ErrInvalidOp},
		{"zeros count negative", Op{Kind: OpZeros, Count: -1}, ErrInvalidOp},
		{"zeros with block", Op{Kind: OpZeros, Block: 1, Count: 1}, ErrInvalidOp},
		{"zeros with data", Op{Kind: OpZeros, Count: 1, Data: []byte("x")}, ErrInvalidOp},
		{"max kind", Op{Kind: math.MaxUint8, Block: 0, Count: 1}, ErrInvalidOp},
		{"block past end", Op{Kind: OpCopy, Block: 3, Count: 1}, ErrBlockOutOfRange},
		{"run past end", Op{Kind: OpCopy, Block: 1, Count: 3}, ErrBlockOutOfRange},
		{"negative block", Op{Kind: OpCopy, Block: -1, Count: 1}, ErrBlockOutOfRange},
		{"min block", Op{Kind: OpCopy, Block: math.MinInt64, Count: 2}, ErrBlockOutOfRange},
		{"block plus count overflows", Op{Kind: OpCopy, Block: 2, Count: math.MaxInt64}, ErrBlockOutOfRange},
		{"huge block", Op{Kind: OpCopy, Block: math.MaxInt64, Count: 1}, ErrBlockOutOfRange},
		{"count zero", Op{Kind: OpCopy, Block: 0, Count: 0}, ErrInvalidOp},
		{"count negative", Op{Kind: OpCopy, Block: 1, Count: -1}, ErrInvalidOp},
		{"count min", Op{Kind: OpCopy, Block: 1, Count: math.MinInt64}, ErrInvalidOp},
		{"copy with data", Op{Kind: OpCopy, Block: 0, Count: 1, Data: []byte("x")}, ErrInvalidOp},
		{"empty literal", Op{Kind: OpLiteral}, ErrInvalidOp},
		{"empty non-nil literal", Op{Kind: OpLiteral, Data: []byte{}}, ErrInvalidOp},
		{"literal too large", Op{Kind: OpLiteral, Data: make([]byte, MaxLiteralSize+1)}, ErrLiteralTooLarge},
		{"literal with block", Op{Kind: OpLiteral, Block: 1, Data: []byte("x")}, ErrInvalidOp},
		{"literal with count", Op{Kind: OpLiteral, Count: 1, Data: []byte("x")}, ErrInvalidOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p, err := NewPatcher(bytes.NewReader(base), layout, &out)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Apply(tt.op)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply(%v) = %v, want %v", tt.op, err, tt.want)
			}
			if out.Len() != 0 || p.Written() != 0 {
				t.Errorf("Apply(%v) wrote %d bytes before failing", tt.op, out.Len())
			}
			// The error is sticky.
			if err := p.Apply(Op{Kind: OpLiteral, Data: []byte("x")}); !errors.Is(err, tt.want) {
				t.Errorf("Apply after failure = %v, want %v", err, tt.want)
			}
			if err := p.Finish(sha256.Sum256(nil)); !errors.Is(err, tt.want) {
				t.Errorf("Finish after failure = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPatcherAcceptsEdgeOps(t *testing.T) {
	base := randomBytes(2500, 31)
	layout := Layout{BlockSize: 1024, FileSize: 2500}
	tests := []struct {
		name string
		ops  []Op
		want []byte
	}{
		{"no ops", nil, nil},
		{"whole base", []Op{{Kind: OpCopy, Block: 0, Count: 3}}, base},
		{"short last block", []Op{{Kind: OpCopy, Block: 2, Count: 1}}, base[2048:]},
		{"first block twice", []Op{{Kind: OpCopy, Block: 0, Count: 1}, {Kind: OpCopy, Block: 0, Count: 1}}, append(bytes.Clone(base[:1024]), base[:1024]...)},
		{"max literal", []Op{{Kind: OpLiteral, Data: bytes.Repeat([]byte{7}, MaxLiteralSize)}}, bytes.Repeat([]byte{7}, MaxLiteralSize)},
		{"literal then copy", []Op{{Kind: OpLiteral, Data: []byte("hi")}, {Kind: OpCopy, Block: 1, Count: 1}}, append([]byte("hi"), base[1024:2048]...)},
		{"one zero", []Op{{Kind: OpZeros, Count: 1}}, []byte{0}},
		{"zeros past a chunk", []Op{{Kind: OpLiteral, Data: []byte("a")}, {Kind: OpZeros, Count: copyBufSize + 3}, {Kind: OpLiteral, Data: []byte("b")}},
			append(append([]byte("a"), make([]byte, copyBufSize+3)...), 'b')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Patch(bytes.NewReader(base), layout, tt.ops, &out, sha256.Sum256(tt.want)); err != nil {
				t.Fatalf("Patch = %v", err)
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Errorf("Patch wrote %d bytes, want %d", out.Len(), len(tt.want))
			}
		})
	}
}

func TestIsZero(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"empty", nil, true},
		{"one zero", []byte{0}, true},
		{"one one", []byte{1}, false},
		{"long zeros", make([]byte, 3*copyBufSize+5), true},
		{"last byte set past a chunk", append(make([]byte, copyBufSize+5), 1), false},
	}
	for _, tt := range tests {
		if got := IsZero(tt.b); got != tt.want {
			t.Errorf("IsZero(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPatchChecksumMismatch(t *testing.T) {
	base := randomBytes(3000, 32)
	layout := Layout{BlockSize: 1024, FileSize: 3000}
	var out bytes.Buffer
	want := sha256.Sum256([]byte("something else"))
	err := Patch(bytes.NewReader(base), layout, []Op{{Kind: OpCopy, Block: 0, Count: 3}}, &out, want)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("Patch = %v, want ErrChecksumMismatch", err)
	}
	var mismatch *ChecksumMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Patch error %T is not a *ChecksumMismatchError", err)
	}
	if mismatch.Want != want || mismatch.Got != sha256.Sum256(base) {
		t.Errorf("mismatch = %+v, want Want %x and Got %x", mismatch, want, sha256.Sum256(base))
	}
}

func TestPatcherFinishTwice(t *testing.T) {
	p, err := NewPatcher(nil, Layout{BlockSize: MinBlockSize}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(sha256.Sum256(nil)); err != nil {
		t.Fatalf("Finish = %v", err)
	}
	if err := p.Finish(sha256.Sum256(nil)); !errors.Is(err, ErrInvalidOp) {
		t.Errorf("second Finish = %v, want ErrInvalidOp", err)
	}
	if err := p.Apply(Op{Kind: OpLiteral, Data: []byte("x")}); !errors.Is(err, ErrInvalidOp) {
		t.Errorf("Apply after Finish = %v, want ErrInvalidOp", err)
	}
}

func TestNewPatcherRejects(t *testing.T) {
	base := bytes.NewReader(nil)
	tests := []struct {
		name   string
		base   io.ReaderAt
		layout Layout
		out    io.Writer
		want   error
	}{
		{"block size too small", base, Layout{BlockSize: MinBlockSize - 1}, io.Discard, ErrInvalidSignature},
		{"block size too large", base, Layout{BlockSize: MaxBlockSize + 1}, io.Discard, ErrInvalidSignature},
		{"negative size", base, Layout{BlockSize: MinBlockSize, FileSize: -1}, io.Discard, ErrInvalidSignature},
		{"too many blocks", base, Layout{BlockSize: MinBlockSize, FileSize: math.MaxInt64}, io.Discard, ErrInvalidSignature},
		{"nil base", nil, Layout{BlockSize: MinBlockSize, FileSize: 1}, io.Discard, nil},
		{"nil out", base, Layout{BlockSize: MinBlockSize}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPatcher(tt.base, tt.layout, tt.out)
			if err == nil || p != nil {
				t.Fatalf("NewPatcher = %v, %v; want an error", p, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("NewPatcher error = %v, want %v", err, tt.want)
			}
		})
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct {
	limit int
	err   error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) <= w.limit {
		w.limit -= len(p)
		return len(p), nil
	}
	n := w.limit
	w.limit = 0
	return n, w.err
}

// shortWriter claims to write less than it was given, without an error.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// shortReaderAt serves a base shorter than its layout claims.
type shortReaderAt struct{ data []byte }

func (r shortReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestPatcherIOErrors(t *testing.T) {
	errWrite := errors.New("disk full")
	base := randomBytes(3000, 33)
	layout := Layout{BlockSize: 1024, FileSize: 3000}
	tests := []struct {
		name string
		base io.ReaderAt
		out  io.Writer
		op   Op
		want error
	}{
		{"write error on copy", bytes.NewReader(base), &failWriter{limit: 100, err: errWrite}, Op{Kind: OpCopy, Block: 0, Count: 1}, errWrite},
		{"write error on literal", bytes.NewReader(base), &failWriter{err: errWrite}, Op{Kind: OpLiteral, Data: []byte("x")}, errWrite},
		{"short write", bytes.NewReader(base), shortWriter{}, Op{Kind: OpLiteral, Data: []byte("xy")}, io.ErrShortWrite},
		{"base shorter than layout", shortReaderAt{base[:2000]}, io.Discard, Op{Kind: OpCopy, Block: 1, Count: 2}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPatcher(tt.base, layout, tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Apply(tt.op); !errors.Is(err, tt.want) {
				t.Fatalf("Apply = %v, want %v", err, tt.want)
			}
			if err := p.Finish(sha256.Sum256(nil)); !errors.Is(err, tt.want) {
				t.Errorf("Finish = %v, want the sticky %v", err, tt.want)
			}
		})
	}
}

func TestPatcherWritten(t *testing.T) {
	base := randomBytes(600000, 34)
	layout := Layout{BlockSize: 4096, FileSize: int64(len(base))}
	p, err := NewPatcher(bytes.NewReader(base), layout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op   Op
		want int64
	}{
		{Op{Kind: OpLiteral, Data: []byte("abc")}, 3},
		{Op{Kind: OpCopy, Block: 0, Count: 100}, 3 + 409600}, // more than one copy buffer
		{Op{Kind: OpCopy, Block: 146, Count: 1}, 3 + 409600 + 600000 - 146*4096},
	}
	for _, s := range steps {
		if err := p.Apply(s.op); err != nil {
			t.Fatalf("Apply(%v) = %v", s.op, err)
		}
		if got := p.Written(); got != s.want {
			t.Errorf("after %v Written() = %d, want %d", s.op, got, s.want)
		}
	}
}

func TestPatcherResume(t *testing.T) {
	base := randomBytes(4096, 31)
	target := append(append([]byte{}, randomBytes(3000, 32)...), base[1024:3072]...)
	layout := Layout{BlockSize: 1024, FileSize: int64(len(base))}
	tests := []struct {
		name   string
		split  int // bytes of target already written by an earlier attempt
		prefix []byte
		wantOK bool
	}{
		{"empty prefix", 0, nil, true},
		{"half of the literal", 1500, target[:1500], true},
		{"whole literal", 3000, target[:3000], true},
		{"corrupt prefix", 1500, append([]byte{target[0] ^ 1}, target[1:1500]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p, err := NewPatcher(bytes.NewReader(base), layout, &out)
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Resume(bytes.NewReader(tt.prefix))
			if err != nil || n != int64(len(tt.prefix)) {
				t.Fatalf("Resume = %d, %v; want %d, nil", n, err, len(tt.prefix))
			}
			if got, want := p.Sum(), sha256.Sum256(tt.prefix); got != want {
				t.Errorf("Sum after Resume = %x, want %x", got, want)
			}
			if tt.split < 3000 {
				if err := p.Apply(Op{Kind: OpLiteral, Data: target[tt.split:3000]}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Apply(Op{Kind: OpCopy, Block: 1, Count: 2}); err != nil {
				t.Fatal(err)
			}
			if p.Written() != int64(len(target)) {
				t.Errorf("Written = %d, want %d", p.Written(), len(target))
			}
			if !bytes.Equal(out.Bytes(), target[tt.split:]) {
				t.Errorf("output is not the target after the prefix")
			}
			err = p.Finish(sha256.Sum256(target))
			if tt.wantOK && err != nil {
				t.Errorf("Finish = %v, want nil", err)
			}
			if !tt.wantOK && !errors.Is(err, ErrChecksumMismatch) {
				t.Errorf("Finish = %v, want ErrChecksumMismatch", err)
			}
		})
	}
}

func TestPatcherResumeAfterOutput(t *testing.T) {
	p, err := NewPatcher(nil, Layout{BlockSize: MinBlockSize}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(Op{Kind: OpLiteral, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Resume(bytes.NewReader([]byte("y"))); !errors.Is(err, ErrInvalidOp) {
		t.Errorf("Resume after Apply = %v, want ErrInvalidOp", err)
	}
}
