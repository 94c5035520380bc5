package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// fakeNode is one item of the fake server's in-memory tree.
type fakeNode struct {
	entry   engine.Entry
	content []byte
}

// fakeServer is an in-memory SyncServiceHandler, enough to exercise the
// client: it keeps a tree in a map, signs with the engine and patches
// uploads with the engine's Patcher. It is safe for concurrent use.
type fakeServer struct {
	dirsyncv1connect.UnimplementedSyncServiceHandler

	mu    sync.Mutex
	nodes map[string]*fakeNode
	// root is the root directory's own entry, which every manifest
	// describes and set_root_metadata changes.
	root engine.Entry
	// abortOnce makes the first delta upload of these paths fail with
	// ABORTED, as if the base changed meanwhile.
	abortOnce map[string]bool
	// exhaustOnce makes the next upload of these paths fail with
	// RESOURCE_EXHAUSTED, as a server over one of its limits does.
	exhaustOnce map[string]bool
	// uploads counts the files uploaded, by path; messages counts the
	// UploadRequest messages received.
	uploads  map[string]int
	messages int
	// zstdFrames counts the compressed literals received.
	zstdFrames int
	// signatures counts GetSignature calls.
	signatures int
	// manifests holds the paths of each GetManifest call; an empty list
	// is a full pass.
	manifests [][]string
	// uploadErr, when set, ends every Upload stream with it after the
	// first message.
	uploadErr error
	// middleware, when set, wraps the fake's HTTP handler.
	middleware func(http.Handler) http.Handler
	// status, when set, is the answer to Status; otherwise Status is
	// not implemented, as on an older server.
	status *dirsyncv1.StatusResponse
}

// Status answers f.status.
func (f *fakeServer) Status(context.Context, *connect.Request[dirsyncv1.StatusRequest]) (*connect.Response[dirsyncv1.StatusResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, nil)
	}
	return connect.NewResponse(f.status), nil
}

// newFakeServer returns an empty fake server.
func newFakeServer() *fakeServer {
	return &fakeServer{root: engine.Entry{Type: engine.TypeDir, Mode: 0o755}, nodes: make(map[string]*fakeNode), abortOnce: make(map[string]bool), exhaustOnce: make(map[string]bool), uploads: make(map[string]int)}
}

// serve starts f on an h2c test server and returns a client for dir.
func (f *fakeServer) serve(t *testing.T, dir string, mod func(*Options)) *Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(dirsyncv1connect.NewSyncServiceHandler(f, compressionHandlerOptions()...))
	var h http.Handler = mux
	if f.middleware != nil {
		h = f.middleware(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	opts := Options{Dir: dir, ServerURL: srv.URL, Logger: testLogger(t)}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// compressionHandlerOptions registers the engine's codecs on the handler.
func compressionHandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdWriter() }),
	}
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter writes to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// GetManifest lists the tree, or the subtrees asked for.
func (f *fakeServer) GetManifest(_ context.Context, req *connect.Request[dirsyncv1.GetManifestRequest], stream *connect.ServerStream[dirsyncv1.GetManifestResponse]) error {
	scopes := req.Msg.GetPaths()
	for _, raw := range req.Msg.GetRawPaths() {
		scopes = append(scopes, string(raw))
	}
	f.mu.Lock()
	f.manifests = append(f.manifests, scopes)
	var m engine.Manifest
	for _, n := range f.nodes {
		m = append(m, n.entry)
	}
	root := entryToProto(f.root)
	f.mu.Unlock()
	m.Sort()
	if len(scopes) > 0 {
		m = m.Subtree(scopes...)
	}
	resp := &dirsyncv1.GetManifestResponse{Root: root}
	for _, e := range m {
		resp.Entries = append(resp.Entries, entryToProto(e))
	}
	return stream.Send(resp)
}

// ApplyChanges applies each change to the map.
func (f *fakeServer) ApplyChanges(_ context.Context, req *connect.Request[dirsyncv1.ApplyChangesRequest]) (*connect.Response[dirsyncv1.ApplyChangesResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &dirsyncv1.ApplyChangesResponse{}
	for _, ch := range req.Msg.GetChanges() {
		r := &dirsyncv1.ChangeResult{}
		r.Path, r.RawPath = engine.WirePath(changePath(ch))
		switch a := ch.GetAction().(type) {
		case *dirsyncv1.Change_Delete, *dirsyncv1.Change_RawDelete:
			for p := range f.nodes {
				if engine.IsWithin(p, changePath(ch)) {
					delete(f.nodes, p)
				}
			}
		case *dirsyncv1.Change_MakeSpecial:
			e, _ := entryFromProto(a.MakeSpecial)
			f.makeParentsLocked(e.Path)
			f.nodes[e.Path] = &fakeNode{entry: e}
		case *dirsyncv1.Change_SetRootMetadata:
			e, _ := entryFromProto(a.SetRootMetadata)
			f.root.Mode, f.root.MtimeNs = e.Mode, e.MtimeNs
		case *dirsyncv1.Change_MakeDirectory:
			e, _ := entryFromProto(a.MakeDirectory)
			f.nodes[e.Path] = &fakeNode{entry: e}
		case *dirsyncv1.Change_Symlink:
			e, _ := entryFromProto(a.Symlink)
			f.makeParentsLocked(e.Path)
			f.nodes[e.Path] = &fakeNode{entry: e}
		case *dirsyncv1.Change_SetMetadata:
			e, _ := entryFromProto(a.SetMetadata)
			n, ok := f.nodes[e.Path]
			if !ok {
				r.Code = uint32(connect.CodeNotFound)
				break
			}
			n.entry.Mode, n.entry.MtimeNs = e.Mode, e.MtimeNs
		case *dirsyncv1.Change_CopyContent:
			e, _ := entryFromProto(a.CopyContent)
			r.Code = uint32(connect.CodeNotFound)
			for _, n := range f.nodes {
				if n.entry.Type == engine.TypeFile && n.entry.SHA256 == e.SHA256 {
					f.makeParentsLocked(e.Path)
					f.nodes[e.Path] = &fakeNode{entry: e, content: bytes.Clone(n.content)}
					r.Code, r.SavedBytes = 0, e.Size
					break
				}
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return connect.NewResponse(resp), nil
}

// GetSignature signs the file with the engine.
func (f *fakeServer) GetSignature(_ context.Context, req *connect.Request[dirsyncv1.GetSignatureRequest], stream *connect.ServerStream[dirsyncv1.GetSignatureResponse]) error {
	f.mu.Lock()
	f.signatures++
	n, ok := f.nodes[namedPath(req.Msg)]
	f.mu.Unlock()
	if !ok || n.entry.Type != engine.TypeFile {
		return connect.NewError(connect.CodeNotFound, errors.New("no such file"))
	}
	sig, err := engine.Sign(bytes.NewReader(n.content), int64(len(n.content)), int(req.Msg.GetBlockSize()))
	if err != nil {
		return connect.NewError(connect.CodeInternal, err)
	}
	sum := sha256.Sum256(n.content)
	return stream.Send(&dirsyncv1.GetSignatureResponse{
		Header: &dirsyncv1.SignatureHeader{BlockSize: uint32(sig.BlockSize), FileSize: sig.FileSize, StrongSize: engine.StrongSize, Sha256: sum[:]},
		Weak:   sig.Weak,
		Strong: sig.Strong,
	})
}

// Upload rebuilds each file with a Patcher and answers it.
func (f *fakeServer) Upload(_ context.Context, stream *connect.BidiStream[dirsyncv1.UploadRequest, dirsyncv1.UploadResponse]) error {
	var (
		hdr *dirsyncv1.UploadHeader
		ops []engine.Op
		lit int64
	)
	for {
		msg, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.messages++
		uploadErr := f.uploadErr
		f.mu.Unlock()
		if uploadErr != nil {
			return uploadErr
		}
		if msg.GetHeader() != nil {
			hdr, ops, lit = msg.GetHeader(), nil, 0
		}
		allOps := msg.GetOps()
		for _, file := range msg.GetFiles() {
			allOps = append(slices.Clip(allOps), file.GetOps()...)
		}
		for _, op := range allOps {
			if op.GetZstdLiteral() != nil {
				f.mu.Lock()
				f.zstdFrames++
				f.mu.Unlock()
			}
		}
		ops, lit = appendOps(ops, lit, msg.GetOps())
		var resps []*dirsyncv1.UploadResponse
		if msg.GetFinish() {
			resps = append(resps, f.answer(hdr, ops, lit, msg.GetSha256()))
		}
		for _, file := range msg.GetFiles() {
			ops, lit := appendOps(nil, 0, file.GetOps())
			resps = append(resps, f.answer(file.GetHeader(), ops, lit, file.GetSha256()))
		}
		// As the real server does for a group commit, the answers for
		// the files of one message go in one message.
		if len(resps) > 0 {
			resps[0].More = resps[1:]
			if err := stream.Send(resps[0]); err != nil {
				return err
			}
		}
	}
}

// appendOps converts wire ops and appends them to ops; lit counts the
// literal bytes.
func appendOps(ops []engine.Op, lit int64, wire []*dirsyncv1.DeltaOp) ([]engine.Op, int64) {
	for _, op := range wire {
		switch o := op.GetOp().(type) {
		case *dirsyncv1.DeltaOp_Copy:
			ops = append(ops, engine.Op{Kind: engine.OpCopy, Block: int64(o.Copy.GetStart()), Count: int64(o.Copy.GetCount())})
		case *dirsyncv1.DeltaOp_Literal:
			ops = append(ops, engine.Op{Kind: engine.OpLiteral, Data: o.Literal})
			lit += int64(len(o.Literal))
		case *dirsyncv1.DeltaOp_ZstdLiteral:
			size := int(o.ZstdLiteral.GetSize())
			data, err := engine.DecompressLiteral(make([]byte, 0, size), o.ZstdLiteral.GetFrame(), size)
			if err != nil {
				data = nil // the file then fails its SHA-256
			}
			for len(data) > 0 {
				chunk := data[:min(len(data), engine.MaxLiteralSize)]
				data = data[len(chunk):]
				ops = append(ops, engine.Op{Kind: engine.OpLiteral, Data: chunk})
			}
			lit += int64(size)
		}
	}
	return ops, lit
}

// answer commits one finished file and returns its response.
func (f *fakeServer) answer(hdr *dirsyncv1.UploadHeader, ops []engine.Op, lit int64, finishSum []byte) *dirsyncv1.UploadResponse {
	resp := f.commit(hdr, ops, finishSum)
	if resp.Code == 0 {
		resp.LiteralBytes = lit
		resp.MatchedBytes = hdr.GetEntry().GetSize() - lit
	}
	return resp
}

// commit builds one uploaded file and puts it in place; finishSum is the
// SHA-256 sent with the finish, if any.
func (f *fakeServer) commit(hdr *dirsyncv1.UploadHeader, ops []engine.Op, finishSum []byte) *dirsyncv1.UploadResponse {
	e, err := entryFromProto(hdr.GetEntry())
	resp := &dirsyncv1.UploadResponse{}
	resp.Path, resp.RawPath = engine.WirePath(e.Path)
	if err == nil && len(finishSum) > 0 {
		if len(finishSum) != sha256.Size || (e.HasSHA256 && !bytes.Equal(finishSum, e.SHA256[:])) {
			err = errors.New("bad finish sha256")
		} else {
			e.SHA256, e.HasSHA256 = [sha256.Size]byte(finishSum), true
		}
	}
	if err == nil && !e.HasSHA256 {
		err = errors.New("no sha256")
	}
	if err != nil {
		resp.Code, resp.Message = uint32(connect.CodeInvalidArgument), err.Error()
		return resp
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads[e.Path]++
	if f.exhaustOnce[e.Path] {
		delete(f.exhaustOnce, e.Path)
		resp.Code, resp.Message = uint32(connect.CodeResourceExhausted), "too many bytes in flight (--max-temp-bytes)"
		return resp
	}
	var base []byte
	layout := engine.Layout{BlockSize: engine.MinBlockSize}
	if b := hdr.GetBase(); b != nil {
		n, ok := f.nodes[e.Path]
		sum := sha256.Sum256(nil)
		if ok {
			sum = sha256.Sum256(n.content)
		}
		if !ok || !bytes.Equal(sum[:], b.GetSha256()) || f.abortOnce[e.Path] {
			delete(f.abortOnce, e.Path)
			resp.Code, resp.Message = uint32(connect.CodeAborted), "base changed"
			return resp
		}
		base = n.content
		layout = engine.Layout{BlockSize: int(b.GetBlockSize()), FileSize: int64(len(base))}
	}
	var out bytes.Buffer
	if err := engine.Patch(bytes.NewReader(base), layout, ops, &out, e.SHA256); err != nil {
		resp.Code, resp.Message = uint32(connect.CodeAborted), err.Error()
		return resp
	}
	if hdr.GetBase() == nil {
		f.makeParentsLocked(e.Path)
	}
	f.nodes[e.Path] = &fakeNode{entry: e, content: out.Bytes()}
	return resp
}

// makeParentsLocked creates the missing directories above p with mode
// 0755, as the real server does for a new file or symlink.
func (f *fakeServer) makeParentsLocked(p string) {
	for dir := engine.ParentPath(p); dir != ""; dir = engine.ParentPath(dir) {
		if _, ok := f.nodes[dir]; ok {
			return
		}
		f.nodes[dir] = &fakeNode{entry: engine.Entry{Path: dir, Type: engine.TypeDir, Mode: 0o755, MtimeNs: time.Now().UnixNano()}}
	}
}

// checkMirror fails the test unless the fake server holds a mirror of dir.
func (f *fakeServer) checkMirror(t *testing.T, dir string) {
	t.Helper()
	for _, p := range f.mirrorProblems(t, dir) {
		t.Error(p)
	}
}

// mirrorProblems lists how the fake server's tree differs from dir: paths,
// types, modes, mtimes (but for symlinks), contents and targets.
func (f *fakeServer) mirrorProblems(t *testing.T, dir string) []string {
	t.Helper()
	local, _, err := engine.Scan(dir, engine.ScanOptions{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var problems []string
	var remote []string
	for p := range f.nodes {
		remote = append(remote, p)
	}
	sort.Strings(remote)
	if len(remote) != len(local) {
		problems = append(problems, fmt.Sprintf("server holds %d entries %q, local has %d", len(remote), remote, len(local)))
	}
	for _, l := range local {
		n, ok := f.nodes[l.Path]
		if !ok {
			problems = append(problems, fmt.Sprintf("server lacks %q", l.Path))
			continue
		}
		r := n.entry
		if r.Type != l.Type || r.LinkTarget != l.LinkTarget {
			problems = append(problems, fmt.Sprintf("%q: server has %v %q, want %v %q", l.Path, r.Type, r.LinkTarget, l.Type, l.LinkTarget))
		}
		if r.MtimeNs != l.MtimeNs || l.Type != engine.TypeSymlink && r.Mode != l.Mode {
			problems = append(problems, fmt.Sprintf("%q: server has mode %o mtime %d, want %o %d", l.Path, r.Mode, r.MtimeNs, l.Mode, l.MtimeNs))
		}
		if l.Type == engine.TypeFile {
			want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(l.Path)))
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if !bytes.Equal(n.content, want) {
				problems = append(problems, fmt.Sprintf("%q: server content differs (%d bytes, want %d)", l.Path, len(n.content), len(want)))
			}
		}
	}
	return problems
}
