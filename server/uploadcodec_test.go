package server

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// codecSamples are upload messages of every shape: a file's header with
// literal, copy and zstd operations, a finish, packed files, a delta base
// and a resume.
func codecSamples() map[string]*dirsyncv1.UploadRequest {
	data := bytes.Repeat([]byte("dirsync "), 512)
	sum := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	entry := fileEntry("src/main.go", data, 0o644, time.Unix(1_700_000_000, 5))
	link := &dirsyncv1.Entry{Path: "docs/latest", Type: dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK, LinkTarget: "v2/index.html"}
	return map[string]*dirsyncv1.UploadRequest{
		"empty": {},
		"whole file": {
			Header: &dirsyncv1.UploadHeader{Entry: entry},
			Ops:    []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: data}}},
			Finish: true, Sha256: sum(1),
		},
		"delta": {
			Header: &dirsyncv1.UploadHeader{Entry: entry, Base: &dirsyncv1.DeltaBase{Sha256: sum(2), BlockSize: 2048}},
			Ops: []*dirsyncv1.DeltaOp{
				{Op: &dirsyncv1.DeltaOp_Copy{Copy: &dirsyncv1.BlockRun{Start: 3, Count: 9}}},
				{Op: &dirsyncv1.DeltaOp_Literal{Literal: data[:100]}},
				zstdOp(engine.CompressLiteral(nil, data), len(data)),
			},
		},
		"resume":   {Header: &dirsyncv1.UploadHeader{Entry: entry, Resume: &dirsyncv1.ResumeFrom{Offset: 4096, Sha256: sum(3)}}},
		"ops only": {Ops: []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: data[7:]}}}, Finish: true},
		"packed": {Files: []*dirsyncv1.UploadFile{
			{Header: &dirsyncv1.UploadHeader{Entry: entry}, Ops: []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: data}}}, Sha256: sum(4)},
			{Header: &dirsyncv1.UploadHeader{Entry: link}},
			{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("a/é.txt", nil, 0o600, time.Unix(5, 0))}, Sha256: sum(5)},
		}},
		"raw names": {Files: []*dirsyncv1.UploadFile{
			{Header: &dirsyncv1.UploadHeader{Entry: rawEntry(fileEntry("caf\xe9/na\xefve.txt", data, 0o644, time.Unix(5, 0)))}, Sha256: sum(6)},
			{Header: &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{RawPath: []byte("l\xff"), RawLinkTarget: []byte("t\xff"), Type: dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK}}},
		}},
	}
}

// TestUploadCodecDecodesLikeProto wants every sample decoded as protobuf
// decodes it, whatever the stream's buffer held before.
func TestUploadCodecDecodesLikeProto(t *testing.T) {
	var msg uploadMessage // one buffer reused across the samples, as a stream does
	for name, want := range codecSamples() {
		t.Run(name, func(t *testing.T) {
			data, err := proto.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if err := (uploadCodec{}).Unmarshal(data, &msg); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !proto.Equal(want, msg.req) {
				t.Errorf("decoded %v, want %v", msg.req, want)
			}
		})
	}
}

// TestUploadCodecUnknownFields wants a message with fields this server
// does not know decoded as protobuf decodes it, unknown fields kept, and
// a malformed one refused as protobuf refuses it.
func TestUploadCodecUnknownFields(t *testing.T) {
	known, err := proto.Marshal(codecSamples()["whole file"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"varint field 99", protowire.AppendVarint(protowire.AppendTag(slices.Clone(known), 99, protowire.VarintType), 7), false},
		{"bytes field 100", protowire.AppendBytes(protowire.AppendTag(slices.Clone(known), 100, protowire.BytesType), []byte("later")), false},
		// A group that ends under another field number: the fuzzer's
		// first find, which UnmarshalVTUnsafe on its own accepts.
		{"mismatched group", append(slices.Clone(known), 0x83, 0x30, 0x24), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want dirsyncv1.UploadRequest
			wantErr := proto.Unmarshal(tc.data, &want)
			if (wantErr != nil) != tc.wantErr {
				t.Fatalf("protobuf: %v, want error %v", wantErr, tc.wantErr)
			}
			var msg uploadMessage
			err := msg.decode(tc.data)
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("codec accepted what protobuf refuses (%v)", wantErr)
			case !tc.wantErr && err != nil:
				t.Fatalf("codec: %v", err)
			case !tc.wantErr && !proto.Equal(msg.req, &want):
				t.Fatalf("decoded %v, want %v", msg.req, &want)
			}
		})
	}
}

// TestUploadCodecOwnsKeptFields wants a decoded message's paths, link
// targets and sums to survive the reuse of its decoding buffer, and its
// operations' bytes to be in that buffer rather than copied.
func TestUploadCodecOwnsKeptFields(t *testing.T) {
	want := codecSamples()["packed"]
	data, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var msg uploadMessage
	if err := msg.decode(data); err != nil {
		t.Fatal(err)
	}
	got := msg.req
	for i := range msg.buf {
		msg.buf[i] = 0xff // what decoding the next message would do
	}
	for i, f := range got.GetFiles() {
		k := want.GetFiles()[i]
		if !proto.Equal(f.GetHeader(), k.GetHeader()) || !bytes.Equal(f.GetSha256(), k.GetSha256()) {
			t.Errorf("file %d: header or sum changed with the buffer: %v, want %v", i, f, k)
		}
	}
	lit := got.GetFiles()[0].GetOps()[0].GetLiteral()
	if bytes.Equal(lit, want.GetFiles()[0].GetOps()[0].GetLiteral()) {
		t.Errorf("the literal did not change with the buffer: it was copied out of it")
	}
}

// TestUploadCodecRejects wants malformed messages and strings that are not
// UTF-8 refused with an error that says what is wrong.
func TestUploadCodecRejects(t *testing.T) {
	// withPath encodes a packed symlink with path p and target target;
	// protobuf refuses to encode strings that are not UTF-8, so "~" in
	// them becomes the byte 0xff after encoding.
	withPath := func(p, target string) []byte {
		b, err := proto.Marshal(&dirsyncv1.UploadRequest{Files: []*dirsyncv1.UploadFile{{Header: &dirsyncv1.UploadHeader{
			Entry: &dirsyncv1.Entry{Path: "ok", Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE}}}, {Header: &dirsyncv1.UploadHeader{
			Entry: &dirsyncv1.Entry{Path: p, LinkTarget: target, Type: dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return bytes.ReplaceAll(b, []byte("~"), []byte{0xff})
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"path not UTF-8", "not valid UTF-8", withPath("bad~", "t")},
		{"link target not UTF-8", "link target", withPath("l", "~x")},
		{"truncated", "unexpected EOF", []byte{0x0a, 0x10, 0x0a}},
		{"bad wire type", "wrong wireType", []byte{0x0b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msg uploadMessage
			err := (uploadCodec{}).Unmarshal(tc.data, &msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unmarshal = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzUploadCodec decodes arbitrary bytes with the upload codec and with
// protobuf: whatever the codec accepts, protobuf must accept and decode to
// an equal message, and whatever protobuf refuses, the codec must refuse.
// (The codec may refuse more: a known field with the wrong wire type,
// which protobuf keeps as an unknown field.)
func FuzzUploadCodec(f *testing.F) {
	for _, m := range codecSamples() {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg uploadMessage
		gotErr := msg.decode(data)
		var want dirsyncv1.UploadRequest
		wantErr := proto.Unmarshal(data, &want)
		switch {
		case gotErr == nil && wantErr != nil:
			t.Fatalf("codec accepted what protobuf refuses (%v)", wantErr)
		case gotErr == nil && !proto.Equal(msg.req, &want):
			t.Fatalf("codec decoded %v, protobuf %v", msg.req, &want)
		}
	})
}
