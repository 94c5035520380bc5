package engine

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// fillRandom fills p with deterministic pseudo-random bytes from seed.
func fillRandom(p []byte, seed uint64) {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(p)
}

// randomBytes returns n deterministic pseudo-random bytes from seed.
func randomBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	fillRandom(p, seed)
	return p
}

// deltaOps runs Delta and returns its ops, with literal data copied out
// of Delta's reused buffers.
func deltaOps(t testing.TB, sig *Signature, target []byte) ([]Op, DeltaStats) {
	t.Helper()
	var ops []Op
	stats, err := Delta(sig, bytes.NewReader(target), func(op Op) error {
		op.Data = bytes.Clone(op.Data)
		ops = append(ops, op)
		return nil
	})
	if err != nil {
		t.Fatalf("Delta: %v", err)
	}
	return ops, stats
}

// roundTrip signs base with blockSize, deltas target against it, patches
// base with the ops and checks that the result is target and that the ops
// and stats obey Delta's contract. It returns the stats.
func roundTrip(t testing.TB, base, target []byte, blockSize int) DeltaStats {
	t.Helper()
	sig, err := Sign(bytes.NewReader(base), int64(len(base)), blockSize)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if sig.FileSize != int64(len(base)) {
		t.Fatalf("Sign FileSize = %d, want %d", sig.FileSize, len(base))
	}
	ops, stats := deltaOps(t, sig, target)
	checkOps(t, ops, stats, len(target))
	var out bytes.Buffer
	if err := Patch(bytes.NewReader(base), sig.Layout(), ops, &out, sha256.Sum256(target)); err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if !bytes.Equal(out.Bytes(), target) {
		t.Fatalf("patched %d bytes differ from the %d-byte target", out.Len(), len(target))
	}
	return stats
}

// checkOps checks the shape of Delta's output: stats agree with the ops,
// literals are within bounds, and neither adjacent copies nor adjacent
// literals could have been merged.
func checkOps(t testing.TB, ops []Op, stats DeltaStats, targetLen int) {
	t.Helper()
	if stats.Ops != len(ops) {
		t.Errorf("stats.Ops = %d, want %d", stats.Ops, len(ops))
	}
	if got := stats.MatchedBytes + stats.LiteralBytes; got != int64(targetLen) {
		t.Errorf("matched %d + literal %d = %d bytes, want %d", stats.MatchedBytes, stats.LiteralBytes, got, targetLen)
	}
	var literal int64
	for i, op := range ops {
		switch op.Kind {
		case OpLiteral:
			literal += int64(len(op.Data))
			if len(op.Data) == 0 || len(op.Data) > MaxLiteralSize {
				t.Errorf("op %d: literal of %d bytes", i, len(op.Data))
			}
			if i > 0 && ops[i-1].Kind == OpLiteral && len(ops[i-1].Data) != MaxLiteralSize {
				t.Errorf("op %d: literal follows a short literal of %d bytes", i, len(ops[i-1].Data))
			}
		case OpCopy:
			if i > 0 && ops[i-1].Kind == OpCopy && ops[i-1].Block+ops[i-1].Count == op.Block {
				t.Errorf("op %d: %v continues %v without coalescing", i, op, ops[i-1])
			}
		default:
			t.Errorf("op %d: unknown kind %v", i, op.Kind)
		}
	}
	if literal != stats.LiteralBytes {
		t.Errorf("literal ops carry %d bytes, stats say %d", literal, stats.LiteralBytes)
	}
}
