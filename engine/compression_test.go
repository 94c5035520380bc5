package engine

import (
	"bytes"
	"io"
	"testing"
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
		}
	}
	if err := NewZstdWriter().Close(); err != nil {
		t.Errorf("Close of an unused writer: %v", err)
	}
	if _, err := NewZstdWriter().Write([]byte("x")); err == nil {
		t.Error("Write before Reset succeeded")
	}
}
