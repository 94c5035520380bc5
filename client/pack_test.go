package client

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// describe renders an UploadRequest sequence compactly: per message, "H"
// for a header, "L<n>" for a literal of n bytes, "C<start>+<count>" for a
// copy, and "F" for finish.
func describe(msgs []*dirsyncv1.UploadRequest) string {
	var parts []string
	for _, m := range msgs {
		var b strings.Builder
		if m.GetHeader() != nil {
			b.WriteString("H")
			if m.GetHeader().GetBase() != nil {
				b.WriteString("(base)")
			}
		}
		for _, op := range m.GetOps() {
			switch o := op.GetOp().(type) {
			case *dirsyncv1.DeltaOp_Literal:
				fmt.Fprintf(&b, " L%d", len(o.Literal))
			case *dirsyncv1.DeltaOp_Copy:
				fmt.Fprintf(&b, " C%d+%d", o.Copy.GetStart(), o.Copy.GetCount())
			}
		}
		if m.GetFinish() {
			b.WriteString(" F")
		}
		parts = append(parts, strings.TrimSpace(b.String()))
	}
	return strings.Join(parts, " | ")
}

// packLiterals packs a literal-only file of size bytes.
func packLiterals(t *testing.T, size int) []*dirsyncv1.UploadRequest {
	t.Helper()
	var msgs []*dirsyncv1.UploadRequest
	hdr := &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{Path: "f", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Size: int64(size)}}
	pk := newPacker(hdr, maxMessageBytes, func(m *dirsyncv1.UploadRequest) error { msgs = append(msgs, m); return nil })
	data := bytes.Repeat([]byte{'x'}, size)
	if err := sendLiterals(bytes.NewReader(data), pk.add); err != nil {
		t.Fatal(err)
	}
	if err := pk.finish(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestPackLiterals(t *testing.T) {
	const k = 1 << 10
	tests := []struct {
		name string
		size int
		want string
	}{
		{"empty file", 0, "H F"},
		{"small file is one message", 5, "H L5 F"},
		{"one chunk", 256 * k, "H L262144 F"},
		{"1 MiB is one message", 1024 * k, "H L262144 L262144 L262144 L262144 F"},
		{"600 KiB", 600 * k, "H L262144 L262144 L90112 F"},
		{"2.5 MiB", 2560 * k, "H L262144 L262144 L262144 L262144 | L262144 L262144 L262144 L262144 | L262144 L262144 F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(packLiterals(t, tt.size)); got != tt.want {
				t.Errorf("packing %d bytes = %q, want %q", tt.size, got, tt.want)
			}
		})
	}
}

func TestPackDelta(t *testing.T) {
	var msgs []*dirsyncv1.UploadRequest
	hdr := &dirsyncv1.UploadHeader{
		Entry: &dirsyncv1.Entry{Path: "f", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE},
		Base:  &dirsyncv1.DeltaBase{Sha256: make([]byte, 32), BlockSize: 4096},
	}
	pk := newPacker(hdr, maxMessageBytes, func(m *dirsyncv1.UploadRequest) error { msgs = append(msgs, m); return nil })
	buf := []byte("edit")
	ops := []engine.Op{
		{Kind: engine.OpCopy, Block: 0, Count: 10},
		{Kind: engine.OpLiteral, Data: buf},
		{Kind: engine.OpCopy, Block: 11, Count: 500},
	}
	for _, op := range ops {
		if err := pk.add(op); err != nil {
			t.Fatal(err)
		}
	}
	// The packer must have copied the literal: the engine reuses its buffer.
	copy(buf, "XXXX")
	if err := pk.finish(); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(msgs), "H(base) C0+10 L4 C11+500 F"; got != want {
		t.Errorf("delta packed as %q, want %q", got, want)
	}
	if lit := msgs[0].GetOps()[1].GetLiteral(); string(lit) != "edit" {
		t.Errorf("literal %q changed with the caller's buffer, want %q", lit, "edit")
	}
}

func TestPackDeltaFromEngine(t *testing.T) {
	base := randomBytes(3, 200<<10)
	target := bytes.Clone(base)
	copy(target[100<<10:], "an edit")
	sig, err := engine.Sign(bytes.NewReader(base), int64(len(base)), 4096)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*dirsyncv1.UploadRequest
	hdr := &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{Path: "f"}, Base: &dirsyncv1.DeltaBase{BlockSize: 4096}}
	pk := newPacker(hdr, maxMessageBytes, func(m *dirsyncv1.UploadRequest) error { msgs = append(msgs, m); return nil })
	if _, err := engine.Delta(sig, bytes.NewReader(target), pk.add); err != nil {
		t.Fatal(err)
	}
	if err := pk.finish(); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(msgs), "H(base) C0+25 L4096 C26+24 F"; got != want {
		t.Errorf("delta packed as %q, want %q", got, want)
	}
}

func TestMessageBytes(t *testing.T) {
	tests := []struct {
		codec      string
		want       int
		wantPacked int
	}{
		{engine.CompressionZstd, engine.ZstdWindow + 16<<10, engine.ZstdWindow + 16<<10},
		{engine.CompressionGzip, 1<<20 + 4<<10, 1<<20 + 4<<10},
		{engine.CompressionNone, 1<<20 + 4<<10, 256<<10 + 4<<10},
	}
	for _, tt := range tests {
		if got := messageBytes(tt.codec); got != tt.want {
			t.Errorf("messageBytes(%q) = %d, want %d", tt.codec, got, tt.want)
		}
		got := packedMessageBytes(tt.codec)
		if got != tt.wantPacked {
			t.Errorf("packedMessageBytes(%q) = %d, want %d", tt.codec, got, tt.wantPacked)
		}
		// A pack holds at least one file of the largest packable size,
		// with its header, sum and framing.
		if room := got - maxPackedFileBytes; room < 1<<10 {
			t.Errorf("packedMessageBytes(%q) leaves %d bytes beside a %d-byte file", tt.codec, room, maxPackedFileBytes)
		}
	}
	// A file of one zstd window travels as one message.
	var msgs []*dirsyncv1.UploadRequest
	hdr := &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{Path: "f", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Size: engine.ZstdWindow}}
	pk := newPacker(hdr, messageBytes(engine.CompressionZstd), func(m *dirsyncv1.UploadRequest) error { msgs = append(msgs, m); return nil })
	if err := sendLiterals(bytes.NewReader(make([]byte, engine.ZstdWindow)), pk.add); err != nil {
		t.Fatal(err)
	}
	if err := pk.finish(); err != nil {
		t.Fatal(err)
	}
	if got, want := describe(msgs), "H"+strings.Repeat(" L262144", engine.ZstdWindow/engine.MaxLiteralSize)+" F"; got != want {
		t.Errorf("a window's worth with zstd = %q, want %q", got, want)
	}
}

func TestPackWholeFiles(t *testing.T) {
	const k = 1 << 10
	tests := []struct {
		name      string
		size      int
		wantWhole bool
	}{
		{"empty file", 0, true},
		{"small file", 10 * k, true},
		{"one full message", 3 * engine.MaxLiteralSize, true},
		{"two messages", maxMessageBytes + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent []*dirsyncv1.UploadRequest
			var whole *dirsyncv1.UploadRequest
			var wholeSize int
			hdr := &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{Path: "f", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Size: int64(tt.size)}}
			pk := newPacker(hdr, maxMessageBytes, func(m *dirsyncv1.UploadRequest) error { sent = append(sent, m); return nil })
			pk.whole = func(m *dirsyncv1.UploadRequest, size int) error { whole, wholeSize = m, size; return nil }
			if err := sendLiterals(bytes.NewReader(make([]byte, tt.size)), pk.add); err != nil {
				t.Fatal(err)
			}
			pk.finishSum(make([]byte, 32))
			if err := pk.finish(); err != nil {
				t.Fatal(err)
			}
			if got := whole != nil; got != tt.wantWhole {
				t.Fatalf("handed over whole = %v, want %v (sent %s)", got, tt.wantWhole, describe(sent))
			}
			if !tt.wantWhole {
				if last := sent[len(sent)-1]; !last.GetFinish() || len(last.GetSha256()) != 32 {
					t.Errorf("last sent message lacks finish or sum: %s", describe(sent))
				}
				return
			}
			if len(sent) != 0 {
				t.Errorf("a whole file also went to send: %s", describe(sent))
			}
			if whole.GetHeader() != hdr || !whole.GetFinish() || len(whole.GetSha256()) != 32 {
				t.Errorf("whole message = %s, want the header, its ops, the sum and finish", describe([]*dirsyncv1.UploadRequest{whole}))
			}
			if size := proto.Size(whole); wholeSize < size || wholeSize > size+4*k {
				t.Errorf("estimated size %d for a message of %d bytes", wholeSize, size)
			}
		})
	}
}

func TestPackCopiesGoOutByOutput(t *testing.T) {
	const bs = 16 << 10
	runBlocks := int64(maxMessageOutput / bs / 2) // two runs make one message
	tests := []struct {
		name string
		runs int
		want string
	}{
		{"one half run", 1, "H(base) C0+256 F"},
		{"two half runs", 2, "H(base) C0+256 C256+256 | F"},
		{"five half runs", 5, "H(base) C0+256 C256+256 | C512+256 C768+256 | C1024+256 F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []*dirsyncv1.UploadRequest
			hdr := &dirsyncv1.UploadHeader{
				Entry: &dirsyncv1.Entry{Path: "f", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Size: int64(tt.runs) * runBlocks * bs},
				Base:  &dirsyncv1.DeltaBase{BlockSize: bs},
			}
			pk := newPacker(hdr, maxMessageBytes, func(m *dirsyncv1.UploadRequest) error { msgs = append(msgs, m); return nil })
			pk.blockSize = bs
			for i := range int64(tt.runs) {
				if err := pk.add(engine.Op{Kind: engine.OpCopy, Block: i * runBlocks, Count: runBlocks}); err != nil {
					t.Fatal(err)
				}
			}
			if err := pk.finish(); err != nil {
				t.Fatal(err)
			}
			if got := describe(msgs); got != tt.want {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
		})
	}
}
