package engine

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// edit derives a target from a base; it must not modify base.
type edit func(r *rand.Rand, base []byte) []byte

func overwrite(n int) edit {
	return func(r *rand.Rand, base []byte) []byte {
		t := bytes.Clone(base)
		if len(t) == 0 {
			return t
		}
		at := r.IntN(len(t))
		for i := at; i < min(at+n, len(t)); i++ {
			t[i] ^= byte(1 + r.IntN(255))
		}
		return t
	}
}

func insert(n int) edit {
	return func(r *rand.Rand, base []byte) []byte {
		at := r.IntN(len(base) + 1)
		return slices.Concat(base[:at], randomBytes(n, r.Uint64()), base[at:])
	}
}

func deleteBytes(n int) edit {
	return func(r *rand.Rand, base []byte) []byte {
		if len(base) <= n {
			return nil
		}
		at := r.IntN(len(base) - n)
		return slices.Concat(base[:at], base[at+n:])
	}
}

func appendBytes(n int) edit {
	return func(r *rand.Rand, base []byte) []byte {
		return slices.Concat(base, randomBytes(n, r.Uint64()))
	}
}

func truncate(n int) edit {
	return func(_ *rand.Rand, base []byte) []byte {
		return bytes.Clone(base[:max(len(base)-n, 0)])
	}
}

func replaceAll(n int) edit {
	return func(r *rand.Rand, _ []byte) []byte { return randomBytes(n, r.Uint64()) }
}

func identical(_ *rand.Rand, base []byte) []byte { return bytes.Clone(base) }

func many(edits ...edit) edit {
	return func(r *rand.Rand, base []byte) []byte {
		for _, e := range edits {
			base = e(r, base)
		}
		return base
	}
}

// shuffleBlocks cuts base into n-byte pieces and reverses their order.
func shuffleBlocks(n int) edit {
	return func(_ *rand.Rand, base []byte) []byte {
		var t []byte
		for end := len(base); end > 0; end -= n {
			t = append(t, base[max(end-n, 0):end]...)
		}
		return t
	}
}

func TestDeltaRoundTrip(t *testing.T) {
	zeros := func(n int) func(uint64) []byte { return func(uint64) []byte { return make([]byte, n) } }
	random := func(n int) func(uint64) []byte { return func(s uint64) []byte { return randomBytes(n, s) } }
	text := func(n int) func(uint64) []byte {
		return func(uint64) []byte {
			return bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), n/44+1)[:n]
		}
	}
	tests := []struct {
		name string
		base func(seed uint64) []byte
		edit edit
	}{
		{"empty base and target", random(0), identical},
		{"empty base", random(0), appendBytes(5000)},
		{"empty target", random(40000), replaceAll(0)},
		{"one byte", random(1), identical},
		{"shorter than a block", random(300), identical},
		{"shorter than a block edited", random(300), overwrite(10)},
		{"shorter than a block grown", random(300), appendBytes(10000)},
		{"exact multiple", random(8 * 2048), identical},
		{"exact multiple overwrite", random(8 * 2048), overwrite(1)},
		{"identical", random(100000), identical},
		{"overwrite 1", random(100000), overwrite(1)},
		{"overwrite 100", random(100000), overwrite(100)},
		{"overwrite 5000", random(100000), overwrite(5000)},
		{"insert 1", random(100000), insert(1)},
		{"insert 3000", random(100000), insert(3000)},
		{"delete 1", random(100000), deleteBytes(1)},
		{"delete 3000", random(100000), deleteBytes(3000)},
		{"append", random(100000), appendBytes(777)},
		{"truncate", random(100000), truncate(777)},
		{"truncate to one byte", random(100000), truncate(99999)},
		{"blocks reversed", random(100000), shuffleBlocks(2048)},
		{"mixed edits", random(200000), many(overwrite(10), insert(100), deleteBytes(50), overwrite(3000), insert(1), deleteBytes(1), appendBytes(10), truncate(5))},
		{"different", random(100000), replaceAll(100000)},
		{"different beyond literal cap", random(10000), replaceAll(3*MaxLiteralSize + 123)},
		{"large literal then matches", random(600000), many(insert(MaxLiteralSize+700), insert(2*MaxLiteralSize))},
		{"zeros", zeros(100000), identical},
		{"zeros edited", zeros(100000), many(overwrite(3), insert(7), deleteBytes(1000))},
		{"text", text(100000), identical},
		{"text edited", text(100000), many(insert(5), overwrite(20), deleteBytes(3))},
	}
	blockSizes := []int{0, MinBlockSize, 1000, 4096}
	seeds := uint64(3)
	if raceEnabled {
		seeds = 1
	}
	for _, tt := range tests {
		for _, bs := range blockSizes {
			for seed := range seeds {
				t.Run(tt.name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(seed, uint64(bs)))
					base := tt.base(seed + 100)
					target := tt.edit(r, base)
					roundTrip(t, base, target, bs)
				})
			}
		}
	}
}

func TestDeltaUnchangedIsOneCopy(t *testing.T) {
	tests := []struct {
		name string
		size int
		bs   int
	}{
		{"short last block", 100000, 0},
		{"exact multiple", 16 * 1024, 1024},
		{"single short block", 100, MinBlockSize},
		{"zeros", 50000, MinBlockSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := randomBytes(tt.size, 7)
			if tt.name == "zeros" {
				base = make([]byte, tt.size)
			}
			sig, err := Sign(bytes.NewReader(base), int64(len(base)), tt.bs)
			if err != nil {
				t.Fatal(err)
			}
			ops, stats := deltaOps(t, sig, base)
			want := []Op{{Kind: OpCopy, Block: 0, Count: int64(sig.NumBlocks())}}
			if !slices.EqualFunc(ops, want, opEqual) {
				t.Errorf("Delta(unchanged) = %v, want %v", ops, want)
			}
			if stats.LiteralBytes != 0 || stats.MatchedBytes != int64(len(base)) {
				t.Errorf("stats = %+v, want all %d bytes matched", stats, len(base))
			}
		})
	}
}

func opEqual(a, b Op) bool {
	return a.Kind == b.Kind && a.Block == b.Block && a.Count == b.Count && bytes.Equal(a.Data, b.Data)
}

func TestDeltaMatchesShortLastBlockAtTail(t *testing.T) {
	base := randomBytes(10*1024+100, 8) // last block is 100 bytes
	target := slices.Concat(randomBytes(5000, 9), base[10*1024:])
	sig, err := Sign(bytes.NewReader(base), 0, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ops, stats := deltaOps(t, sig, target)
	last := ops[len(ops)-1]
	if last.Kind != OpCopy || last.Block != 10 || last.Count != 1 {
		t.Errorf("last op = %v, want copy(block 10, count 1)", last)
	}
	if stats.LiteralBytes != 5000 {
		t.Errorf("LiteralBytes = %d, want 5000", stats.LiteralBytes)
	}
}

// Efficiency bounds, asserted on bytes: an edit costs at most the blocks
// it touches.
func TestDeltaEfficiency(t *testing.T) {
	// The full 64 MiB takes about ten seconds under the race detector;
	// the bounds are the same at any size, so shrink the file there.
	size := 64 << 20
	if testing.Short() || raceEnabled {
		size = 8 << 20
	}
	base := randomBytes(size, 10)
	bs := BlockSizeFor(int64(size))
	tests := []struct {
		name        string
		target      func() []byte
		maxLiteral  int64
		wantMatched int64
	}{
		{
			// 100 bytes inside block 1000: only that block is resent.
			name: "100-byte overwrite within a block",
			target: func() []byte {
				t := bytes.Clone(base)
				for i := range 100 {
					t[1000*bs+200+i] ^= 0x5a
				}
				return t
			},
			maxLiteral:  int64(bs),
			wantMatched: int64(size - bs),
		},
		{
			name: "100-byte overwrite across a boundary",
			target: func() []byte {
				t := bytes.Clone(base)
				for i := range 100 {
					t[1000*bs-50+i] ^= 0x5a
				}
				return t
			},
			maxLiteral:  int64(2 * bs),
			wantMatched: int64(size - 2*bs),
		},
		{
			// 10 bytes inserted near the start: the rest realigns.
			name:        "10-byte insertion near the start",
			target:      func() []byte { return slices.Concat(base[:1234], []byte("0123456789"), base[1234:]) },
			maxLiteral:  int64(bs + 10),
			wantMatched: int64(size - bs),
		},
		{
			name:        "10-byte deletion near the start",
			target:      func() []byte { return slices.Concat(base[:1234], base[1244:]) },
			maxLiteral:  int64(bs),
			wantMatched: int64(size - bs),
		},
		{
			// Like rsync, the base's short final block matches only at
			// the very end of the target, so it is resent when the size
			// is not a multiple of the block size.
			name:        "one byte appended",
			target:      func() []byte { return slices.Concat(base, []byte{1}) },
			maxLiteral:  int64(size%bs + 1),
			wantMatched: int64(size - size%bs),
		},
	}
	sig, err := Sign(bytes.NewReader(base), int64(size), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target()
			longest := int64(0)
			stats, err := Delta(sig, bytes.NewReader(target), func(op Op) error {
				if op.Kind == OpCopy {
					longest = max(longest, op.Count*int64(sig.BlockSize))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if longest > MaxRunBytes {
				t.Errorf("a copy op stands for %d bytes, want at most MaxRunBytes (%d)", longest, MaxRunBytes)
			}
			if stats.LiteralBytes > tt.maxLiteral {
				t.Errorf("LiteralBytes = %d, want at most %d (block size %d)", stats.LiteralBytes, tt.maxLiteral, bs)
			}
			if stats.MatchedBytes < tt.wantMatched {
				t.Errorf("MatchedBytes = %d, want at least %d", stats.MatchedBytes, tt.wantMatched)
			}
			// Three ops around the edit, and one more copy per
			// MaxRunBytes of unchanged data.
			if maxOps := 3 + int64(size)/MaxRunBytes; int64(stats.Ops) > maxOps {
				t.Errorf("Ops = %d, want at most %d", stats.Ops, maxOps)
			}
		})
	}
}

func TestDeltaInvalidSignature(t *testing.T) {
	called := false
	_, err := Delta(&Signature{BlockSize: 10}, bytes.NewReader([]byte("x")), func(Op) error { called = true; return nil })
	if !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("Delta(bad signature) error = %v, want ErrInvalidSignature", err)
	}
	if called {
		t.Error("Delta emitted ops for an invalid signature")
	}
	if _, err := Delta(nil, bytes.NewReader(nil), func(Op) error { return nil }); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("Delta(nil) error = %v, want ErrInvalidSignature", err)
	}
}

func TestDeltaEmitError(t *testing.T) {
	errStop := errors.New("stop")
	base := randomBytes(50000, 11)
	sig, err := Sign(bytes.NewReader(base), 0, MinBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target []byte
		failAt int
	}{
		{"first copy", base, 0},
		{"first literal", randomBytes(1000, 12), 0},
		{"second op", slices.Concat(base[:5000], randomBytes(1000, 13), base[5000:]), 1},
		{"last op", slices.Concat(base[:5000], randomBytes(1000, 13), base[5000:]), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			stats, err := Delta(sig, bytes.NewReader(tt.target), func(Op) error {
				calls++
				if calls > tt.failAt {
					return errStop
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("Delta error = %v, want errStop", err)
			}
			if calls != tt.failAt+1 || stats.Ops != tt.failAt {
				t.Errorf("emit called %d times, stats.Ops = %d; want %d and %d", calls, stats.Ops, tt.failAt+1, tt.failAt)
			}
		})
	}
}

// errReader returns its data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDeltaReadError(t *testing.T) {
	errRead := errors.New("disk on fire")
	sig, err := Sign(bytes.NewReader(randomBytes(10000, 14)), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Delta(sig, &errReader{data: randomBytes(5000, 15), err: errRead}, func(Op) error { return nil })
	if !errors.Is(err, errRead) {
		t.Errorf("Delta error = %v, want the read error", err)
	}
	// A reader's own io.ErrUnexpectedEOF is an error, not a short file.
	_, err = Sign(&errReader{data: randomBytes(5000, 15), err: io.ErrUnexpectedEOF}, 0, 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Sign error = %v, want io.ErrUnexpectedEOF", err)
	}
}

// oneByteReader returns one byte per Read, to exercise buffer refills.
type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

func TestSmallReads(t *testing.T) {
	base := randomBytes(30000, 16)
	target := slices.Concat(base[:10000], []byte("inserted"), base[10000:])
	sig, err := Sign(&oneByteReader{base}, 0, MinBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Sign(bytes.NewReader(base), 0, MinBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	if sig.FileSize != want.FileSize || !slices.Equal(sig.Weak, want.Weak) || !bytes.Equal(sig.Strong, want.Strong) {
		t.Fatal("Sign over one-byte reads differs from Sign over one read")
	}
	var ops []Op
	_, err = Delta(sig, &oneByteReader{target}, func(op Op) error {
		op.Data = bytes.Clone(op.Data)
		ops = append(ops, op)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantOps, _ := deltaOps(t, sig, target)
	if !slices.EqualFunc(ops, wantOps, opEqual) {
		t.Errorf("Delta over one-byte reads = %v, want %v", ops, wantOps)
	}
}
