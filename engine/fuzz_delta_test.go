package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

// fuzzBase is the base FuzzPatchOps patches: four blocks of fuzzBlock
// bytes, the last one short.
var fuzzBase = randomBytes(3*fuzzBlock+200, 40)

const fuzzBlock = MinBlockSize

// opDecoder turns fuzz input into ops; it returns zero values when the
// input runs out.
type opDecoder struct{ in []byte }

func (d *opDecoder) byte() byte {
	if len(d.in) == 0 {
		return 0
	}
	b := d.in[0]
	d.in = d.in[1:]
	return b
}

// int64 decodes a small signed value from one byte, or, when the byte's
// top bit is set, an arbitrary value from the next eight.
func (d *opDecoder) int64() int64 {
	b := d.byte()
	if b&0x80 == 0 {
		return int64(b) - 8
	}
	var raw [8]byte
	d.in = d.in[copy(raw[:], d.in):]
	return int64(binary.LittleEndian.Uint64(raw[:]))
}

// op decodes one op: a kind byte (including invalid kinds), then the
// fields of a copy, or a literal whose length byte may ask for an empty,
// short, maximal or oversized literal.
func (d *opDecoder) op() Op {
	kind := OpKind(d.byte() % 4)
	if kind == OpLiteral || kind == 3 && d.byte()%2 == 0 {
		var data []byte
		switch n := d.byte(); n {
		case 0xff:
			data = make([]byte, MaxLiteralSize+1)
		case 0xfe:
			data = make([]byte, MaxLiteralSize)
		default:
			data = slices.Clone(d.in[:min(int(n), len(d.in))])
			d.in = d.in[len(data):]
		}
		return Op{Kind: kind, Data: data}
	}
	op := Op{Kind: kind, Block: d.int64(), Count: d.int64()}
	if kind == OpZeros {
		// The Patcher writes every zero asked for (the server bounds a
		// run by the file's declared size); keep a run's cost small.
		op.Count %= 1 << 20
	}
	return op
}

// referenceApply is the specification of Patcher.Apply for fuzzing: it
// returns the bytes op produces, or the sentinel error it must fail with.
func referenceApply(base []byte, l Layout, op Op) ([]byte, error) {
	switch op.Kind {
	case OpCopy:
		if op.Block < 0 {
			return nil, ErrBlockOutOfRange
		}
		if op.Count < 1 {
			return nil, ErrInvalidOp
		}
		if op.Block > l.NumBlocks() || op.Count > l.NumBlocks()-op.Block {
			return nil, ErrBlockOutOfRange
		}
		if len(op.Data) > 0 {
			return nil, ErrInvalidOp
		}
		start := op.Block * int64(l.BlockSize)
		end := min((op.Block+op.Count)*int64(l.BlockSize), l.FileSize)
		return base[start:end], nil
	case OpLiteral:
		if len(op.Data) == 0 {
			return nil, ErrInvalidOp
		}
		if len(op.Data) > MaxLiteralSize {
			return nil, ErrLiteralTooLarge
		}
		if op.Block != 0 || op.Count != 0 {
			return nil, ErrInvalidOp
		}
		return op.Data, nil
	case OpZeros:
		if op.Count < 1 || op.Block != 0 || len(op.Data) != 0 {
			return nil, ErrInvalidOp
		}
		return make([]byte, op.Count), nil
	}
	return nil, ErrInvalidOp
}

func FuzzPatchOps(f *testing.F) {
	f.Add([]byte{1, 8, 12})                                                                                                // copy the whole base
	f.Add([]byte{2, 3, 'a', 'b', 'c', 1, 9, 9})                                                                            // literal, copy block 1
	f.Add([]byte{1, 0x80, 1, 2, 3, 4, 5, 6, 7, 0x7f, 8, 9})                                                                // huge block
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}) // overflow
	f.Add([]byte{2, 0xff})                                                                                                 // oversized literal
	f.Add([]byte{2, 0xfe, 1, 11, 9})                                                                                       // maximal literal
	f.Add([]byte{3, 0, 1, 'x'})                                                                                            // unknown kind
	f.Add([]byte{1, 8, 8})                                                                                                 // count 0
	f.Fuzz(func(t *testing.T, in []byte) {
		layout := Layout{BlockSize: fuzzBlock, FileSize: int64(len(fuzzBase))}
		useRef := len(in) > 0 && in[0]&0x80 != 0
		d := &opDecoder{in: in}
		var declared [32]byte
		if !useRef {
			d.in = d.in[copy(declared[:], d.in):]
		}
		var out, want bytes.Buffer
		p, err := NewPatcher(bytes.NewReader(fuzzBase), layout, &out)
		if err != nil {
			t.Fatal(err)
		}
		failed := false
		for n := 0; len(d.in) > 0 && n < 64; n++ {
			op := d.op()
			wantData, wantErr := referenceApply(fuzzBase, layout, op)
			err := p.Apply(op)
			if wantErr != nil {
				if !errors.Is(err, wantErr) {
					t.Fatalf("Apply(%v) = %v, want %v", op, err, wantErr)
				}
				failed = true
				break
			}
			if err != nil {
				t.Fatalf("Apply(%v) = %v, want success", op, err)
			}
			want.Write(wantData)
		}
		if !bytes.Equal(out.Bytes(), want.Bytes()) || p.Written() != int64(want.Len()) {
			t.Fatalf("patcher wrote %d bytes (Written %d), reference %d", out.Len(), p.Written(), want.Len())
		}
		if useRef && !failed {
			declared = sha256.Sum256(want.Bytes())
		}
		err = p.Finish(declared)
		if err == nil && sha256.Sum256(out.Bytes()) != declared {
			t.Fatal("Finish succeeded on output without the declared hash")
		}
		if !failed && (err == nil) != (sha256.Sum256(out.Bytes()) == declared) {
			t.Fatalf("Finish = %v for output with hash match %v", err, sha256.Sum256(out.Bytes()) == declared)
		}
	})
}

// zeroReaderAt is a base of size zero bytes.
type zeroReaderAt struct{ size int64 }

func (z zeroReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= z.size {
		return 0, errors.New("read outside base")
	}
	n := int(min(int64(len(p)), z.size-off))
	clear(p[:n])
	if n < len(p) {
		return n, errors.New("short base")
	}
	return n, nil
}

func FuzzSignatureValidate(f *testing.F) {
	signed, err := Sign(bytes.NewReader(fuzzBase), 0, MinBlockSize)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed.BlockSize, signed.FileSize, uint16(len(signed.Weak)), uint16(len(signed.Strong)), uint8(0), []byte("fill"), fuzzBase)
	f.Add(MinBlockSize, int64(2000), uint16(4), uint16(64), uint8(1), []byte{1, 2, 3}, fuzzBase[100:])
	f.Add(MinBlockSize, int64(0), uint16(0), uint16(0), uint8(0), []byte(nil), []byte("target"))
	f.Add(0, int64(-1), uint16(1), uint16(16), uint8(0), []byte(nil), []byte(nil))
	f.Add(math.MaxInt, int64(math.MaxInt64), uint16(7), uint16(7), uint8(2), []byte{0xff}, []byte("x"))
	f.Add(MaxBlockSize, int64(MaxBlockSize+1), uint16(2), uint16(32), uint8(1), []byte{9}, make([]byte, 3000))
	f.Fuzz(func(t *testing.T, blockSize int, fileSize int64, nWeak, nStrong uint16, mode uint8, fill, target []byte) {
		sig := &Signature{BlockSize: blockSize, FileSize: fileSize}
		if mode%3 == 2 {
			// Make the lengths consistent, so Validate passes more often.
			if n := sig.Layout().NumBlocks(); n >= 0 && n <= 1<<12 && blockSize > 0 {
				nWeak, nStrong = uint16(n), uint16(n*StrongSize)
			}
		}
		sig.Weak = make([]uint32, nWeak)
		sig.Strong = make([]byte, nStrong)
		for i := range sig.Weak {
			switch {
			case mode%3 == 1 && blockSize > 0 && len(target) > 0:
				// Weak sums of target windows: weak hits, strong misses.
				start := (i * 37) % len(target)
				sig.Weak[i] = WeakSum(target[start:][:min(blockSize, len(target)-start)])
			case len(fill) > 0:
				sig.Weak[i] = uint32(fill[i%len(fill)]) * 0x01010101
			}
		}
		for i := range sig.Strong {
			if len(fill) > 0 {
				sig.Strong[i] = fill[i%len(fill)]
			}
		}
		if err := sig.Validate(); err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("Validate = %v, want ErrInvalidSignature", err)
			}
			return
		}
		p, err := NewPatcher(zeroReaderAt{sig.FileSize}, sig.Layout(), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("NewPatcher(valid layout) = %v", err)
		}
		stats, err := Delta(sig, bytes.NewReader(target), p.Apply)
		if err != nil {
			t.Fatalf("Delta(valid signature) = %v", err)
		}
		if stats.MatchedBytes+stats.LiteralBytes != int64(len(target)) {
			t.Fatalf("stats %+v do not add up to %d bytes", stats, len(target))
		}
	})
}

func FuzzDeltaRoundTrip(f *testing.F) {
	base := fuzzBase[:1500]
	f.Add(base, base, uint16(0))
	f.Add(base, slices.Concat(base[:700], []byte("hello"), base[700:]), uint16(0))
	f.Add(base, slices.Concat(base[:300], base[900:]), uint16(100))
	f.Add(base, base[:1024], uint16(0))
	f.Add(base, slices.Concat(base[1024:], base[:1024]), uint16(0))
	f.Add([]byte(nil), base, uint16(3))
	f.Add(base, []byte(nil), uint16(3))
	f.Add(make([]byte, 2000), make([]byte, 2100), uint16(0))
	f.Fuzz(func(t *testing.T, base, target []byte, bsSel uint16) {
		roundTrip(t, base, target, MinBlockSize+int(bsSel)%MinBlockSize)
	})
}
