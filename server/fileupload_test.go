package server

import (
	"bytes"
	"testing"
)

func TestSizeLimitWriter(t *testing.T) {
	tests := []struct {
		name      string
		limit     int64
		start     int64 // bytes already there, as after a resume
		writes    []string
		withWhole bool
		// wantBuffered and wantWhole are what reached each writer;
		// wantErr is whether the last write failed.
		wantBuffered, wantWhole string
		wantErr                 bool
	}{
		{name: "whole file at once", limit: 5, writes: []string{"hello"}, withWhole: true, wantWhole: "hello"},
		{name: "whole file, no direct writer", limit: 5, writes: []string{"hello"}, wantBuffered: "hello"},
		{name: "in pieces", limit: 5, writes: []string{"he", "llo"}, withWhole: true, wantBuffered: "hello"},
		{name: "shorter than declared", limit: 6, writes: []string{"hello"}, withWhole: true, wantBuffered: "hello"},
		{name: "resumed", limit: 8, start: 3, writes: []string{"hello"}, withWhole: true, wantBuffered: "hello"},
		{name: "too large", limit: 4, writes: []string{"hello"}, withWhole: true, wantErr: true},
		{name: "too large after a piece", limit: 5, writes: []string{"hel", "lo!"}, withWhole: true, wantBuffered: "hel", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buffered, whole bytes.Buffer
			w := &sizeLimitWriter{w: &buffered, limit: tt.limit, n: tt.start, rel: "f"}
			if tt.withWhole {
				w.whole = &whole
			}
			var err error
			for _, s := range tt.writes {
				_, err = w.Write([]byte(s))
			}
			if (err != nil) != tt.wantErr || w.exceeded != tt.wantErr {
				t.Fatalf("last write: %v, exceeded %v; want an error: %v", err, w.exceeded, tt.wantErr)
			}
			if buffered.String() != tt.wantBuffered || whole.String() != tt.wantWhole {
				t.Fatalf("buffered %q, direct %q; want %q, %q", buffered.String(), whole.String(), tt.wantBuffered, tt.wantWhole)
			}
		})
	}
}
