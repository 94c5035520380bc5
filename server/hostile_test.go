package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// fence is a server root with a sibling directory "outside" that holds a
// secret. Everything the peer receives is recorded, so a test can prove
// that nothing outside the root was created, changed or read.
type fence struct {
	*testEnv
	outside string
	secret  []byte
	before  map[string]snapEntry
	rec     *recorder
}

// snapEntry is what a snapshot keeps of one item.
type snapEntry struct {
	mode    fs.FileMode
	size    int64
	mtimeNs int64
	link    string
	content []byte
}

// newFence builds the root and its outside sibling, snapshots the outside
// and starts a server over the root with a recording client speaking p.
func newFence(t *testing.T, p protocol) *fence {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	secret := append([]byte("SECRET-"), randomBytes(4096, 42)...)
	for _, d := range []string{root, filepath.Join(outside, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, outside, "secret", secret)
	writeFile(t, outside, "sub/x", secret)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"secret", "sub/x", "sub", "."} {
		if err := os.Chtimes(filepath.Join(outside, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	f := &fence{testEnv: newEnv(t, root, p), outside: outside, secret: secret, rec: &recorder{}}
	f.before = snapshot(t, outside)
	opts := append([]connect.ClientOption{connect.WithInterceptors(f.rec)}, p.opts...)
	f.client = dirsyncv1connect.NewSyncServiceClient(f.hs.Client(), f.hs.URL, opts...)
	return f
}

// snapshot returns every item under dir, dir itself included as ".".
func snapshot(t *testing.T, dir string) map[string]snapEntry {
	t.Helper()
	snap := make(map[string]snapEntry)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := snapEntry{mode: info.Mode(), size: info.Size(), mtimeNs: info.ModTime().UnixNano()}
		switch {
		case info.Mode().IsRegular():
			if e.content, err = os.ReadFile(p); err != nil {
				return err
			}
		case info.Mode().Type() == fs.ModeSymlink:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		snap[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return snap
}

// check proves that the outside is as it was, that no response carried
// the secret or its SHA-256, and that the root holds no copy of it.
func (f *fence) check(t *testing.T) {
	t.Helper()
	after := snapshot(t, f.outside)
	for rel, b := range f.before {
		a, ok := after[rel]
		switch {
		case !ok:
			t.Errorf("outside: %s was removed", rel)
		case a.mode != b.mode || a.size != b.size || a.mtimeNs != b.mtimeNs || a.link != b.link || !bytes.Equal(a.content, b.content):
			t.Errorf("outside: %s changed: %+v -> %+v", rel, b, a)
		}
	}
	for rel := range after {
		if _, ok := f.before[rel]; !ok {
			t.Errorf("outside: %s was created", rel)
		}
	}
	sum := sha256.Sum256(f.secret)
	for _, needle := range [][]byte{f.secret[:64], sum[:], []byte(strings.ToLower(string(hexBytes(sum[:]))))} {
		if f.rec.contains(needle) {
			t.Errorf("a response carries the secret or its hash (%.16q)", needle)
		}
	}
	filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, f.secret[:64]) {
				t.Errorf("root: %s holds the secret", p)
			}
		}
		return nil
	})
	assertNoTempFiles(t, f.root)
}

// hexBytes returns p in lower-case hex.
func hexBytes(p []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(p))
	for _, b := range p {
		out = append(out, digits[b>>4], digits[b&15])
	}
	return out
}

// recorder is a client interceptor that keeps every response message and
// error message the client receives.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// add records one response message or error.
func (r *recorder) add(msg any, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := msg.(proto.Message); ok && m != nil {
		b, _ := proto.Marshal(m)
		r.buf.Write(b)
		r.buf.WriteString(strings.ToLower(string(hexBytes(b))))
	}
	if err != nil {
		r.buf.WriteString(err.Error())
	}
}

// contains reports whether any recorded response holds needle.
func (r *recorder) contains(needle []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Contains(r.buf.Bytes(), needle)
}

// WrapUnary records unary responses.
func (r *recorder) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		var msg any
		if resp != nil {
			msg = resp.Any()
		}
		r.add(msg, err)
		return resp, err
	}
}

// WrapStreamingClient records streamed responses.
func (r *recorder) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		return &recordingConn{StreamingClientConn: next(ctx, spec), r: r}
	}
}

// WrapStreamingHandler is not used on a client.
func (r *recorder) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// recordingConn records what a client stream receives.
type recordingConn struct {
	connect.StreamingClientConn
	r *recorder
}

// Receive records each message or error.
func (c *recordingConn) Receive(msg any) error {
	err := c.StreamingClientConn.Receive(msg)
	if errors.Is(err, io.EOF) {
		return err
	}
	if err != nil {
		c.r.add(nil, err)
	} else {
		c.r.add(msg, nil)
	}
	return err
}

// signature asks for the signature of rel and returns the stream's error.
func (env *testEnv) signature(t *testing.T, rel string) error {
	t.Helper()
	stream, err := env.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{Path: rel}))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
	}
	return stream.Err()
}

// TestHostilePaths sends non-canonical paths to every RPC and proves that
// nothing outside the root was touched.
func TestHostilePaths(t *testing.T) {
	outsideRel := "../outside/secret" // the real sibling, lexically
	// Paths that are not UTF-8 cannot be marshalled into a string field;
	// TestHostileRawPaths sends them as raw bytes. A backslash is part of
	// a name on Linux, so `..\x` is a name, not an escape.
	paths := []string{
		"../x", "a/../../x", "a/../b", outsideRel, "/abs", "/etc/passwd",
		"a\x00b", "", ".", "..", "a/.", "a//b", "a/", "./a",
		strings.Repeat("n", 256),                // component over 255 bytes
		strings.Repeat("d/", 2048) + "x",        // path over 4096 bytes
		"ok/" + strings.Repeat("n", 256) + "/x", // long component inside
		".dirsync-tmp-x", "a/.dirsync-tmp-x/b",  // the server's temporary names
		"a/\x00/b",
	}
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			f := newFence(t, proto)
			for _, p := range paths {
				e := fileEntry(p, f.secret, 0o644, time.Now())
				resp := f.uploadOne(t, literalUpload(e, f.secret)...)
				if got := connect.Code(resp.GetCode()); got != connect.CodeInvalidArgument {
					t.Errorf("Upload(%.40q): code %v, want InvalidArgument", p, got)
				}
				results := f.applyChanges(t, deleteChange(p), mkdirChange(p, 0o755), symlinkChange(p, f.outside),
					metaChange(p, 0o777, time.Now()), copyChange(e))
				for i, r := range results {
					if got := connect.Code(r.GetCode()); got != connect.CodeInvalidArgument {
						t.Errorf("ApplyChanges(%.40q) change %d: code %v, want InvalidArgument", p, i, got)
					}
				}
				if got := connect.CodeOf(f.signature(t, p)); got != connect.CodeInvalidArgument {
					t.Errorf("GetSignature(%.40q): code %v, want InvalidArgument", p, got)
				}
				if _, _, err := f.manifest(t, p); connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("GetManifest(%.40q): code %v, want InvalidArgument", p, connect.CodeOf(err))
				}
			}
			if ents, _ := os.ReadDir(f.root); len(ents) != 0 {
				t.Errorf("root holds %d entries after refused requests", len(ents))
			}
			f.check(t)
		})
	}
}

// TestHostileSymlinks makes symlinks that point out of the root (which
// ApplyChanges allows: a link is mirrored, never followed) and then tries
// to write, read, list and change through them, and swaps a directory for
// such a link between the calls of an upload. Everything is refused or
// stays inside the root.
func TestHostileSymlinks(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			f := newFence(t, p)
			links := map[string]string{
				"slash": "/",
				"up":    "..",
				"out":   "../outside",
				"abs":   f.outside,
				"file":  filepath.Join(f.outside, "secret"),
			}
			for name, target := range links {
				if r := f.applyChanges(t, symlinkChange(name, target)); r[0].GetCode() != 0 {
					t.Fatalf("symlink %s -> %s: %s", name, target, r[0].GetMessage())
				}
			}
			sum := sha256.Sum256(f.secret)
			secretEntry := fileEntry("x", f.secret, 0o644, time.Now())
			for name := range links {
				for _, rel := range []string{name + "/x", name + "/secret", name + "/sub/x", name + "/outside/secret"} {
					e := fileEntry(rel, []byte("pwned"), 0o644, time.Now())
					if r := f.uploadOne(t, literalUpload(e, []byte("pwned"))...); r.GetCode() == 0 {
						t.Errorf("Upload(%s) succeeded through a symlink", rel)
					}
					delta := &dirsyncv1.UploadRequest{
						Header: &dirsyncv1.UploadHeader{Entry: e, Base: &dirsyncv1.DeltaBase{Sha256: sum[:], BlockSize: 1024}},
						Ops:    []*dirsyncv1.DeltaOp{copyOp(0, 1)},
						Finish: true,
					}
					if r := f.uploadOne(t, delta); r.GetCode() == 0 {
						t.Errorf("delta Upload(%s) succeeded through a symlink", rel)
					}
					ce := fileEntry(rel, f.secret, 0o644, time.Now())
					results := f.applyChanges(t, mkdirChange(rel, 0o777), symlinkChange(rel, "/"),
						metaChange(rel, 0o777, time.Now()), copyChange(ce), deleteChange(rel))
					for i, r := range results {
						if r.GetCode() == 0 {
							t.Errorf("ApplyChanges(%s) change %d succeeded through a symlink", rel, i)
						}
					}
					if err := f.signature(t, rel); err == nil {
						t.Errorf("GetSignature(%s) succeeded through a symlink", rel)
					}
					if entries, _, err := f.manifest(t, rel); err != nil || len(entries) != 0 {
						t.Errorf("GetManifest(%s) = %d entries, %v; want none", rel, len(entries), err)
					}
				}
				// The link itself: signed never, listed as a link, its
				// metadata never set through it.
				if err := f.signature(t, name); connect.CodeOf(err) != connect.CodeFailedPrecondition {
					t.Errorf("GetSignature(%s): %v, want FailedPrecondition", name, err)
				}
				entries, _, err := f.manifest(t, name)
				if err != nil || len(entries) != 1 || entries[0].GetType() != dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK {
					t.Errorf("GetManifest(%s) = %v, %v; want the link alone", name, entries, err)
				}
				if r := f.applyChanges(t, metaChange(name, 0o777, time.Now())); r[0].GetCode() != 0 {
					t.Errorf("set metadata of link %s: %s", name, r[0].GetMessage())
				}
			}
			// Content held outside is never found by its hash.
			if r := f.applyChanges(t, copyChange(secretEntry)); connect.Code(r[0].GetCode()) != connect.CodeNotFound {
				t.Errorf("copy_content of the secret's hash: code %s, want NotFound", codeName(r[0].GetCode()))
			}
			// A delta whose base is the link to the secret reads nothing.
			e := fileEntry("file", []byte("new"), 0o644, time.Now())
			delta := &dirsyncv1.UploadRequest{
				Header: &dirsyncv1.UploadHeader{Entry: e, Base: &dirsyncv1.DeltaBase{Sha256: sum[:], BlockSize: 1024}},
				Ops:    []*dirsyncv1.DeltaOp{copyOp(0, 1)},
				Finish: true,
			}
			if r := f.uploadOne(t, delta); connect.Code(r.GetCode()) != connect.CodeAborted {
				t.Errorf("delta against the link to the secret: code %s, want Aborted (%s)", codeName(r.GetCode()), r.GetMessage())
			}
			// Replacing a link with a file replaces the link, not its target.
			if r := f.uploadOne(t, literalUpload(e, []byte("new"))...); r.GetCode() != 0 {
				t.Errorf("replace link with a file: %s", r.GetMessage())
			} else if got := readFile(t, f.root, "file"); string(got) != "new" {
				t.Errorf("file = %q", got)
			}
			// The whole tree lists the links as links and nothing beyond.
			all, _, err := f.manifest(t)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range all {
				if strings.Contains(e.GetPath(), "/") {
					t.Errorf("manifest lists %s, below a link", e.GetPath())
				}
			}
			// Deleting a link deletes the link only.
			for name := range links {
				if r := f.applyChanges(t, deleteChange(name)); r[0].GetCode() != 0 {
					t.Errorf("delete link %s: %s", name, r[0].GetMessage())
				}
			}
			f.check(t)
		})
	}
}

// TestHostileSwap swaps a directory for a symlink to the outside between
// the calls that build one file, and between an upload's header and its
// finish.
func TestHostileSwap(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			f := newFence(t, p)
			if r := f.applyChanges(t, mkdirChange("d", 0o755)); r[0].GetCode() != 0 {
				t.Fatal(r[0].GetMessage())
			}
			data := randomBytes(3000, 9)
			e := fileEntry("d/secret", data, 0o644, time.Now())
			stream := f.client.Upload(testCtx(t))
			if err := stream.Send(&dirsyncv1.UploadRequest{Header: &dirsyncv1.UploadHeader{Entry: e}, Ops: []*dirsyncv1.DeltaOp{literalOp(data[:1000])}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the upload's temporary file", func() bool {
				ents, _ := os.ReadDir(filepath.Join(f.root, "d"))
				return len(ents) == 1 && isTempName(ents[0].Name())
			})
			if r := f.applyChanges(t, symlinkChange("d", f.outside)); r[0].GetCode() != 0 {
				t.Fatalf("swap d for a symlink: %s", r[0].GetMessage())
			}
			if err := stream.Send(&dirsyncv1.UploadRequest{Ops: []*dirsyncv1.DeltaOp{literalOp(data[1000:])}, Finish: true}); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Receive()
			if err != nil {
				t.Fatal(err)
			}
			// The upload works in the directory it opened at the header,
			// which the swap deleted: the file can land nowhere.
			if resp.GetCode() == 0 {
				t.Errorf("upload finished after the swap succeeded")
			}
			stream.CloseRequest()
			stream.Receive()
			stream.CloseResponse()

			// The next calls on d/... see the link and refuse.
			if r := f.uploadOne(t, literalUpload(e, data)...); connect.Code(r.GetCode()) != connect.CodeFailedPrecondition {
				t.Errorf("upload after the swap: code %s, want FailedPrecondition", codeName(r.GetCode()))
			}
			results := f.applyChanges(t, mkdirChange("d/sub", 0o755), metaChange("d/secret", 0o777, time.Now()), deleteChange("d/secret"))
			for i, r := range results {
				if connect.Code(r.GetCode()) != connect.CodeFailedPrecondition {
					t.Errorf("change %d after the swap: code %s, want FailedPrecondition", i, codeName(r.GetCode()))
				}
			}
			if err := f.signature(t, "d/secret"); connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Errorf("GetSignature after the swap: %v, want FailedPrecondition", err)
			}
			// And back: the link becomes a directory again, inside the root.
			if r := f.applyChanges(t, mkdirChange("d", 0o755)); r[0].GetCode() != 0 {
				t.Fatal(r[0].GetMessage())
			}
			if r := f.uploadOne(t, literalUpload(e, data)...); r.GetCode() != 0 {
				t.Errorf("upload into d restored: %s", r.GetMessage())
			}
			if got := readFile(t, f.root, "d/secret"); !bytes.Equal(got, data) {
				t.Errorf("d/secret differs")
			}
			f.check(t)
		})
	}
}
