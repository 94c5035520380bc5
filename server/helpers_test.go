package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// protocol is a client protocol the tests run against.
type protocol struct {
	name string
	opts []connect.ClientOption
}

// protocols are the client protocols every RPC test loops over.
var protocols = []protocol{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-zstd", []connect.ClientOption{
		connect.WithGRPC(),
		connect.WithAcceptCompression(engine.CompressionZstd,
			func() connect.Decompressor { return engine.NewZstdReader() },
			func() connect.Compressor { return engine.NewZstdWriter() }),
		connect.WithSendCompression(engine.CompressionZstd),
	}},
	{"connect-gzip", []connect.ClientOption{connect.WithSendGzip()}},
}

// testEnv is a server over a fresh root, served over HTTP/2 with TLS, and
// a client speaking one protocol.
type testEnv struct {
	root   string
	srv    *Server
	hs     *httptest.Server
	client dirsyncv1connect.SyncServiceClient
}

// newEnv starts a server over root (a fresh directory if "") and returns
// a client for it speaking p.
func newEnv(t *testing.T, root string, p protocol) *testEnv {
	t.Helper()
	return newEnvOpts(t, root, p, Options{})
}

// newEnvOpts is newEnv with server options.
func newEnvOpts(t *testing.T, root string, p protocol, opts Options) *testEnv {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	srv, err := New(root, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return &testEnv{root: root, srv: srv, hs: hs, client: dirsyncv1connect.NewSyncServiceClient(hs.Client(), hs.URL, p.opts...)}
}

// forEachProtocol runs f in a subtest per protocol, each with its own
// server and root.
func forEachProtocol(t *testing.T, f func(t *testing.T, env *testEnv)) {
	forEachProtocolOpts(t, Options{}, f)
}

// forEachProtocolOpts is forEachProtocol with server options.
func forEachProtocolOpts(t *testing.T, opts Options, f func(t *testing.T, env *testEnv)) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) { f(t, newEnvOpts(t, "", p, opts)) })
	}
}

// ctx returns a context for one test RPC.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// upload sends reqs on one Upload stream, closes its side and returns the
// responses and the stream's final error.
func (env *testEnv) upload(t *testing.T, reqs ...*dirsyncv1.UploadRequest) ([]*dirsyncv1.UploadResponse, error) {
	t.Helper()
	stream := env.client.Upload(testCtx(t))
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			break // the server ended the stream; Receive reports why
		}
	}
	if err := stream.CloseRequest(); err != nil {
		t.Fatalf("CloseRequest: %v", err)
	}
	var resps []*dirsyncv1.UploadResponse
	for {
		resp, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return resps, stream.CloseResponse()
		}
		if err != nil {
			stream.CloseResponse()
			return resps, err
		}
		resps = append(resps, answers(resp)...)
	}
}

// uploadAll uploads reqs on one stream, which must end cleanly with n
// answers, and returns them.
func (env *testEnv) uploadAll(t *testing.T, n int, reqs ...*dirsyncv1.UploadRequest) []*dirsyncv1.UploadResponse {
	t.Helper()
	resps, err := env.upload(t, reqs...)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if len(resps) != n {
		t.Fatalf("%d responses, want %d", len(resps), n)
	}
	return resps
}

// answers returns the answers one UploadResponse message carries: itself
// and those in its more field, in order.
func answers(resp *dirsyncv1.UploadResponse) []*dirsyncv1.UploadResponse {
	more := resp.GetMore()
	resp.More = nil
	return append([]*dirsyncv1.UploadResponse{resp}, more...)
}

// uploadOne uploads reqs, which must describe one file, and returns its
// response.
func (env *testEnv) uploadOne(t *testing.T, reqs ...*dirsyncv1.UploadRequest) *dirsyncv1.UploadResponse {
	t.Helper()
	resps, err := env.upload(t, reqs...)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if len(resps) != 1 {
		t.Fatalf("Upload: %d responses, want 1", len(resps))
	}
	return resps[0]
}

// applyChanges applies changes and returns their results.
func (env *testEnv) applyChanges(t *testing.T, changes ...*dirsyncv1.Change) []*dirsyncv1.ChangeResult {
	t.Helper()
	resp, err := env.client.ApplyChanges(testCtx(t), connect.NewRequest(&dirsyncv1.ApplyChangesRequest{Changes: changes}))
	if err != nil {
		t.Fatalf("ApplyChanges: %v", err)
	}
	if len(resp.Msg.GetResults()) != len(changes) {
		t.Fatalf("ApplyChanges: %d results for %d changes", len(resp.Msg.GetResults()), len(changes))
	}
	return resp.Msg.GetResults()
}

// manifest returns the server's manifest of scopes.
func (env *testEnv) manifest(t *testing.T, scopes ...string) ([]*dirsyncv1.Entry, int, error) {
	t.Helper()
	stream, err := env.client.GetManifest(testCtx(t), connect.NewRequest(&dirsyncv1.GetManifestRequest{Paths: scopes}))
	if err != nil {
		return nil, 0, err
	}
	defer stream.Close()
	var entries []*dirsyncv1.Entry
	batches := 0
	for stream.Receive() {
		batches++
		entries = append(entries, stream.Msg().GetEntries()...)
	}
	return entries, batches, stream.Err()
}

// status returns the server's status.
func (env *testEnv) status(t *testing.T) *dirsyncv1.StatusResponse {
	t.Helper()
	resp, err := env.client.Status(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{}))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return resp.Msg
}

// fileEntry returns the wire entry of a regular file with content data.
func fileEntry(path string, data []byte, mode uint32, mtime time.Time) *dirsyncv1.Entry {
	sum := sha256.Sum256(data)
	return &dirsyncv1.Entry{
		Path: path, Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Mode: mode,
		Size: int64(len(data)), MtimeNs: mtime.UnixNano(), Sha256: sum[:],
	}
}

// literalUpload returns the messages that upload data as literals only, in
// one message per literal and a separate finish.
func literalUpload(entry *dirsyncv1.Entry, data []byte) []*dirsyncv1.UploadRequest {
	reqs := []*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: entry}}}
	for len(data) > 0 {
		n := min(len(data), engine.MaxLiteralSize)
		reqs = append(reqs, &dirsyncv1.UploadRequest{Ops: []*dirsyncv1.DeltaOp{literalOp(data[:n])}})
		data = data[n:]
	}
	return append(reqs, &dirsyncv1.UploadRequest{Finish: true})
}

// literalOp returns a literal delta op.
func literalOp(p []byte) *dirsyncv1.DeltaOp {
	return &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Literal{Literal: bytes.Clone(p)}}
}

// zstdOp returns a compressed literal op.
func zstdOp(frame []byte, size int) *dirsyncv1.DeltaOp {
	return &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_ZstdLiteral{ZstdLiteral: &dirsyncv1.ZstdLiteral{Frame: frame, Size: uint32(size)}}}
}

// zerosOp returns a delta op of n zero bytes.
func zerosOp(n uint64) *dirsyncv1.DeltaOp {
	return &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Zeros{Zeros: n}}
}

// copyOp returns a block-run delta op.
func copyOp(start, count uint64) *dirsyncv1.DeltaOp {
	return &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Copy{Copy: &dirsyncv1.BlockRun{Start: start, Count: count}}}
}

// deltaUpload returns the messages that upload target as a delta against
// base, signed with blockSize, all in one message, and the delta's stats.
func deltaUpload(t *testing.T, entry *dirsyncv1.Entry, base, target []byte, blockSize int) (*dirsyncv1.UploadRequest, engine.DeltaStats) {
	t.Helper()
	sig, err := engine.Sign(bytes.NewReader(base), int64(len(base)), blockSize)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	var ops []*dirsyncv1.DeltaOp
	stats, err := engine.Delta(sig, bytes.NewReader(target), func(op engine.Op) error {
		if op.Kind == engine.OpCopy {
			ops = append(ops, copyOp(uint64(op.Block), uint64(op.Count)))
		} else {
			ops = append(ops, literalOp(op.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Delta: %v", err)
	}
	baseSum := sha256.Sum256(base)
	return &dirsyncv1.UploadRequest{
		Header: &dirsyncv1.UploadHeader{Entry: entry, Base: &dirsyncv1.DeltaBase{Sha256: baseSum[:], BlockSize: uint32(blockSize)}},
		Ops:    ops,
		Finish: true,
	}, stats
}

// writeFile writes a file under root, creating parents.
func writeFile(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile reads a file under root.
func readFile(t *testing.T, root, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int, seed byte) []byte {
	p := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

// assertNoTempFiles fails if a temporary file is left under root.
func assertNoTempFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && isTempName(d.Name()) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// codeName returns the name of a numeric result code.
func codeName(c uint32) string {
	if c == 0 {
		return "ok"
	}
	return connect.Code(c).String()
}
