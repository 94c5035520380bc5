package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// The fuzz targets decode their input as the server's request messages and
// drive the handlers in process against a small tree whose root has a
// sibling "outside" directory. Whatever the input, the server must not
// panic, must answer with codes that describe a request (never Internal,
// which would mean an unclassified failure or a bug), must leave no
// temporary file, lock or reservation behind, and must not touch the
// outside.

// fuzzRoot is a small tree to fuzz against.
type fuzzRoot struct {
	srv     *Server
	root    string
	outside string
	before  map[string]string // outside, path to content or link target
}

// fuzzBase is the content of the file "base" of a fuzz tree, 3 blocks of
// 1 KiB and a tail.
var fuzzBase = randomBytes(3*1024+100, 7)

// newFuzzRoot builds a tree with a file, a directory and symlinks to the
// outside and to the root's parent, and a Server over it.
func newFuzzRoot(t *testing.T) *fuzzRoot {
	t.Helper()
	base := t.TempDir()
	r := &fuzzRoot{root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	writeFile(t, r.outside, "secret", []byte("secret"))
	writeFile(t, r.root, "base", fuzzBase)
	writeFile(t, r.root, "d/f", []byte("f"))
	for name, target := range map[string]string{"out": r.outside, "up": "..", "file": filepath.Join(r.outside, "secret")} {
		if err := os.Symlink(target, filepath.Join(r.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	r.before = listTree(t, r.outside)
	srv, err := New(r.root, Options{HashWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r.srv = srv
	return r
}

// listTree returns the files and symlinks under dir with their contents
// or targets, and its directories with "/".
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := make(map[string]string)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatalf("walk %s: %v", p, err)
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			m[rel] = "/"
		case d.Type() == fs.ModeSymlink:
			m[rel], _ = os.Readlink(p)
		default:
			data, _ := os.ReadFile(p)
			m[rel] = string(data)
		}
		return nil
	})
	return m
}

// check fails the test if the outside changed or the server left state
// behind.
func (r *fuzzRoot) check(t *testing.T) {
	t.Helper()
	after := listTree(t, r.outside)
	if len(after) != len(r.before) {
		t.Fatalf("outside changed: %q -> %q", r.before, after)
	}
	for k, v := range r.before {
		if after[k] != v {
			t.Fatalf("outside changed at %s", k)
		}
	}
	assertNoTempFiles(t, r.root)
	if n := r.srv.locks.size(); n != 0 {
		t.Fatalf("%d path locks left", n)
	}
	if n := r.srv.temp.inUse(); n != 0 {
		t.Fatalf("%d bytes of temporary space still reserved", n)
	}
	if n := r.srv.streams.n.Load(); n != 0 {
		t.Fatalf("%d upload streams still counted", n)
	}
}

// allowedCodes are the codes a hostile request may get, in a result or as
// the RPC's error.
var allowedCodes = map[connect.Code]bool{
	connect.CodeInvalidArgument:    true,
	connect.CodeNotFound:           true,
	connect.CodeFailedPrecondition: true,
	connect.CodeAborted:            true,
	connect.CodeResourceExhausted:  true,
}

// checkCode fails the test unless code (0 for success) is allowed.
func checkCode(t *testing.T, what string, code uint32, msg string) {
	t.Helper()
	if code != 0 && !allowedCodes[connect.Code(code)] {
		t.Fatalf("%s: code %s: %s", what, codeName(code), msg)
	}
}

// checkRPCError fails the test unless err is nil or a Connect error with
// an allowed code.
func checkRPCError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: error %v is not a Connect error", what, err)
	}
	checkCode(t, what, uint32(ce.Code()), ce.Message())
}

// seedChanges are ApplyChanges requests of interesting shapes.
func seedChanges() []*dirsyncv1.ApplyChangesRequest {
	entry := func(p string, typ dirsyncv1.EntryType) *dirsyncv1.Entry {
		sum := sha256.Sum256(fuzzBase)
		return &dirsyncv1.Entry{Path: p, Type: typ, Mode: 0o644, Size: int64(len(fuzzBase)), MtimeNs: 1, Sha256: sum[:], LinkTarget: "t"}
	}
	file, dir, link := dirsyncv1.EntryType_ENTRY_TYPE_FILE, dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY, dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK
	var reqs []*dirsyncv1.ApplyChangesRequest
	for _, p := range []string{"x", "d/f", "d", "base", "out/x", "up/x", "file", "../x", "/abs", "a\\b", "", ".", strings.Repeat("n", 256)} {
		reqs = append(reqs, &dirsyncv1.ApplyChangesRequest{Changes: []*dirsyncv1.Change{
			{Action: &dirsyncv1.Change_Delete{Delete: p}},
			{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: entry(p, dir)}},
			{Action: &dirsyncv1.Change_Symlink{Symlink: entry(p, link)}},
			{Action: &dirsyncv1.Change_SetMetadata{SetMetadata: entry(p, 0)}},
			{Action: &dirsyncv1.Change_CopyContent{CopyContent: entry(p, file)}},
			{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{Path: p, Type: file, HardlinkTarget: "base"}}},
			{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{Path: "h", Type: file, HardlinkTarget: p}}},
		}})
	}
	// Names that are not UTF-8, named raw, hostile and not; named pipes;
	// the root's own metadata.
	for _, p := range []string{"caf\xe9", "d/\xff", "\xff/../x", "../\xff", "\xff\x00"} {
		raw := entry("", file)
		raw.RawPath = []byte(p)
		fifo := entry("", dirsyncv1.EntryType_ENTRY_TYPE_FIFO)
		fifo.RawPath, fifo.Size, fifo.Sha256, fifo.LinkTarget = []byte(p), 0, nil, ""
		reqs = append(reqs, &dirsyncv1.ApplyChangesRequest{Changes: []*dirsyncv1.Change{
			{Action: &dirsyncv1.Change_RawDelete{RawDelete: []byte(p)}},
			{Action: &dirsyncv1.Change_CopyContent{CopyContent: raw}},
			{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: fifo}},
			{Action: &dirsyncv1.Change_SetRootMetadata{SetRootMetadata: &dirsyncv1.Entry{RawPath: []byte(p), Mode: 0o755}}},
			{Action: &dirsyncv1.Change_SetRootMetadata{SetRootMetadata: &dirsyncv1.Entry{Mode: 0o7755, MtimeNs: 1}}},
			{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: &dirsyncv1.Entry{RawPath: []byte(p), Type: dirsyncv1.EntryType_ENTRY_TYPE_CHAR_DEVICE, DeviceMajor: 1, DeviceMinor: 3}}},
			{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{RawPath: []byte(p), Type: file, HardlinkTarget: "base"}}},
			{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{Path: "h", Type: file, RawHardlinkTarget: []byte(p)}}},
			{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{Path: "h", Type: file, HardlinkTarget: "base", RawHardlinkTarget: []byte(p)}}},
		}})
	}
	// Swap a directory for a link out of the root, then go through it.
	reqs = append(reqs, &dirsyncv1.ApplyChangesRequest{Changes: []*dirsyncv1.Change{
		{Action: &dirsyncv1.Change_Symlink{Symlink: &dirsyncv1.Entry{Path: "d", LinkTarget: "../outside"}}},
		{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: entry("d/secret", dir)}},
		{Action: &dirsyncv1.Change_CopyContent{CopyContent: entry("d/x", file)}},
		{Action: &dirsyncv1.Change_Delete{Delete: "d/secret"}},
		{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: &dirsyncv1.Entry{Path: "h", HardlinkTarget: "d/x"}}},
		{},
	}})
	return reqs
}

func FuzzApplyChanges(f *testing.F) {
	for _, req := range seedChanges() {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req dirsyncv1.ApplyChangesRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			return // connect refuses it with InvalidArgument before the handler
		}
		r := newFuzzRoot(t)
		resp, err := r.srv.ApplyChanges(context.Background(), connect.NewRequest(&req))
		checkRPCError(t, "ApplyChanges", err)
		if err == nil {
			if got, want := len(resp.Msg.GetResults()), len(req.GetChanges()); got != want {
				t.Fatalf("%d results for %d changes", got, want)
			}
			for i, res := range resp.Msg.GetResults() {
				checkCode(t, "change "+res.GetPath(), res.GetCode(), res.GetMessage())
				if res.GetCode() != 0 && (res.GetMessage() == "" || strings.Contains(res.GetMessage(), r.root)) {
					t.Fatalf("change %d: message %q is empty or holds a server path", i, res.GetMessage())
				}
			}
		}
		r.check(t)
	})
}

// fakeUploadStream feeds an Upload handler a fixed list of messages and
// collects its answers.
type fakeUploadStream struct {
	reqs  []*dirsyncv1.UploadRequest
	resps []*dirsyncv1.UploadResponse
}

// Receive returns the next message, then io.EOF.
func (s *fakeUploadStream) Receive() (*dirsyncv1.UploadRequest, error) {
	if len(s.reqs) == 0 {
		return nil, io.EOF
	}
	r := s.reqs[0]
	s.reqs = s.reqs[1:]
	return r, nil
}

// Send collects an answer.
func (s *fakeUploadStream) Send(r *dirsyncv1.UploadResponse) error {
	s.resps = append(s.resps, answers(r)...)
	return nil
}

// uploadFrames encodes messages as the fuzz input of FuzzUpload: each one
// a length-delimited field 1, as if they were a repeated field of a
// message.
func uploadFrames(reqs ...*dirsyncv1.UploadRequest) []byte {
	var b []byte
	for _, r := range reqs {
		m, err := proto.Marshal(r)
		if err != nil {
			panic(err)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b
}

// decodeFrames splits the fuzz input of FuzzUpload into messages, stopping
// at the first that does not decode: connect would end the stream there.
func decodeFrames(data []byte) []*dirsyncv1.UploadRequest {
	var reqs []*dirsyncv1.UploadRequest
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			break
		}
		data = data[n:]
		m, n := protowire.ConsumeBytes(data)
		if n < 0 {
			break
		}
		data = data[n:]
		var req dirsyncv1.UploadRequest
		if err := proto.Unmarshal(m, &req); err != nil {
			break
		}
		reqs = append(reqs, &req)
	}
	return reqs
}

// seedUploads are Upload streams of interesting shapes.
func seedUploads() [][]*dirsyncv1.UploadRequest {
	target := bytes.Clone(fuzzBase)
	copy(target[1500:], "EDITED")
	sumBase, sumTarget := sha256.Sum256(fuzzBase), sha256.Sum256(target)
	entry := func(p string, size int64, sum [32]byte) *dirsyncv1.Entry {
		return &dirsyncv1.Entry{Path: p, Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Mode: 0o644, Size: size, MtimeNs: 1, Sha256: sum[:]}
	}
	hdr := func(p string, base bool) *dirsyncv1.UploadHeader {
		h := &dirsyncv1.UploadHeader{Entry: entry(p, int64(len(target)), sumTarget)}
		if base {
			h.Base = &dirsyncv1.DeltaBase{Sha256: sumBase[:], BlockSize: 1024}
		}
		return h
	}
	sparse := append(append(bytes.Clone(target[:10]), make([]byte, 8192)...), target[10:]...)
	lateEntry := entry("late", int64(len(target)), sumTarget)
	lateEntry.Sha256 = nil
	good := []*dirsyncv1.DeltaOp{copyOp(0, 1), literalOp(target[1024:2048]), copyOp(2, 2)}
	var seeds [][]*dirsyncv1.UploadRequest
	seeds = append(seeds,
		[]*dirsyncv1.UploadRequest{{Header: hdr("base", true), Ops: good, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("base", true)}, {Ops: good[:1]}, {Ops: good[1:]}, {Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("base", true), Ops: []*dirsyncv1.DeltaOp{copyOp(1, math.MaxInt64)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("base", true), Ops: []*dirsyncv1.DeltaOp{copyOp(math.MaxUint64, 1)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("out/x", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("file", true), Ops: good, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("d", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: entry("huge", math.MaxInt64, sumTarget)}, Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("base", true), Ops: good}},
		[]*dirsyncv1.UploadRequest{{Ops: good}, {Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("a", false)}, {Header: hdr("b", false)}},
		// The SHA-256 with the finish instead of the header.
		[]*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: lateEntry}, Ops: []*dirsyncv1.DeltaOp{literalOp(target)}}, {Finish: true, Sha256: sumTarget[:]}},
		// Whole files packed into one message, after a file of its own,
		// alone, and beside an open file (a protocol violation).
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true, Files: []*dirsyncv1.UploadFile{
			{Header: hdr("base", true), Ops: good},
			{Header: &dirsyncv1.UploadHeader{Entry: lateEntry}, Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Sha256: sumTarget[:]},
			{Header: hdr("out/y", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}},
		}}},
		[]*dirsyncv1.UploadRequest{{Files: []*dirsyncv1.UploadFile{{Header: hdr("p", false), Ops: []*dirsyncv1.DeltaOp{literalOp(target)}}, {Ops: good}}}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("a", false), Files: []*dirsyncv1.UploadFile{{Header: hdr("b", false)}}}},
		// Names that are not UTF-8, in the raw field; one set in both.
		[]*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: rawEntry(entry("caf\xe9", int64(len(target)), sumTarget))}, Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: rawEntry(entry("\xff/../../x", int64(len(target)), sumTarget))}, Ops: []*dirsyncv1.DeltaOp{literalOp(target)}, Finish: true}},
		// Compressed literals: a good one, then one that lies about its size.
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{zstdOp(engine.CompressLiteral(nil, target), len(target))}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{zstdOp(engine.CompressLiteral(nil, target), len(target)+1)}, Finish: true}},
		// Holes: a sparse file, then zeros of no length, of more than
		// the file and of more than an int64.
		[]*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: entry("sparse", int64(len(sparse)), sha256.Sum256(sparse))},
			Ops: []*dirsyncv1.DeltaOp{literalOp(sparse[:10]), zerosOp(8192), literalOp(sparse[8202:])}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{zerosOp(0)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{zerosOp(uint64(len(target)) + 1)}, Finish: true}},
		[]*dirsyncv1.UploadRequest{{Header: hdr("new", false), Ops: []*dirsyncv1.DeltaOp{zerosOp(math.MaxUint64)}, Finish: true}},
	)
	return seeds
}

func FuzzUpload(f *testing.F) {
	for _, reqs := range seedUploads() {
		f.Add(uploadFrames(reqs...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs := decodeFrames(data)
		if len(reqs) == 0 {
			return
		}
		r := newFuzzRoot(t)
		stream := &fakeUploadStream{reqs: reqs}
		err := r.srv.upload(context.Background(), stream)
		checkRPCError(t, "Upload", err)
		for _, resp := range stream.resps {
			checkCode(t, "upload "+resp.GetPath(), resp.GetCode(), resp.GetMessage())
			if resp.GetCode() != 0 && (resp.GetMessage() == "" || strings.Contains(resp.GetMessage(), r.root)) {
				t.Fatalf("upload %q: message %q is empty or holds a server path", resp.GetPath(), resp.GetMessage())
			}
		}
		r.check(t)
	})
}
