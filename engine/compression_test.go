package engine

import (
	"bytes"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZstdRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"text", bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 5000)},
		{"random", randomBytes(300<<10, 7)},
	}
	w := NewZstdWriter()
	r := NewZstdReader()
	// Each message borrows and returns a pooled encoder; run the table twice
	// so that encoders come back from the pool.
	for round := range 2 {
		for _, tt := range tests {
			var compressed bytes.Buffer
			w.Reset(&compressed)
			if _, err := w.Write(tt.data); err != nil {
				t.Fatalf("round %d %s: Write: %v", round, tt.name, err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("round %d %s: Close: %v", round, tt.name, err)
			}
			wire := bytes.Clone(compressed.Bytes())
			if err := r.Reset(&compressed); err != nil {
				t.Fatalf("round %d %s: Reset: %v", round, tt.name, err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("round %d %s: read: %v", round, tt.name, err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("round %d %s: round trip changed the data (%d bytes, want %d)", round, tt.name, len(got), len(tt.data))
			}
			var h zstd.Header
			if err := h.Decode(wire); err != nil {
				t.Fatalf("round %d %s: frame header: %v", round, tt.name, err)
			}
			if len(tt.data) > 0 && (!h.HasFCS || h.FrameContentSize != uint64(len(tt.data))) {
				t.Errorf("round %d %s: frame declares content size %v %d, want %d", round, tt.name, h.HasFCS, h.FrameContentSize, len(tt.data))
			}
		}
	}
	if err := NewZstdWriter().Close(); err != nil {
		t.Errorf("Close of an unused writer: %v", err)
	}
	if _, err := NewZstdWriter().Write([]byte("x")); err == nil {
		t.Error("Write before Reset succeeded")
	}
	w.Reset(io.Discard)
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("y")); err == nil {
		t.Error("a second Write to one message succeeded")
	}
	_ = w.Close()
}
