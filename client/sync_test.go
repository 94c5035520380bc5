package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// writeFile writes content to rel under dir, making parents.
func writeFile(t *testing.T, dir, rel string, content []byte) {
	t.Helper()
	name := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomBytes returns n pseudo-random bytes from seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// syncOK runs one pass and fails the test on any error or failed item.
func syncOK(t *testing.T, c *Client) Summary {
	t.Helper()
	sum, err := c.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
	if sum.Failed != 0 {
		t.Fatalf("SyncOnce: %d failed: %q", sum.Failed, sum.FailedPaths)
	}
	plan, err := c.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !plan.Empty() {
		t.Fatalf("Verify: plan not empty: %v", plan)
	}
	return sum
}

func TestSyncMirrorsTree(t *testing.T) {
	dir := t.TempDir()
	big := randomBytes(1, 3<<20)
	writeFile(t, dir, "a/b/big.bin", big)
	writeFile(t, dir, "a/small.txt", []byte("hello"))
	writeFile(t, dir, "dup1.txt", []byte("same content"))
	writeFile(t, dir, "empty", nil)
	if err := os.Symlink("a/small.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		writeFile(t, dir, filepath.Join("many", string(rune('a'+i%26)), "f"+string(rune('a'+i/26))), randomBytes(uint64(i+10), 100))
	}
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Concurrency = 3 })

	sum := syncOK(t, c)
	f.checkMirror(t, dir)
	if sum.Sent != sum.Files || sum.Files != 204 {
		t.Errorf("first pass sent %d of %d files, want all 204: %v", sum.Sent, sum.Files, sum)
	}
	if sum.WireBytes < sum.LiteralBytes/2 {
		t.Errorf("wire bytes %d implausibly small for %d literal bytes", sum.WireBytes, sum.LiteralBytes)
	}

	// Second pass: a small edit in the big file travels as a delta, a
	// copy of existing content is deduplicated, a removal is deleted,
	// a mode change is metadata only.
	edited := bytes.Clone(big)
	copy(edited[1<<20:], "a small edit in the middle")
	writeFile(t, dir, "a/b/big.bin", edited)
	writeFile(t, dir, "dup2.txt", []byte("same content"))
	if err := os.RemoveAll(filepath.Join(dir, "many", "c")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "a", "small.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum = syncOK(t, c)
	f.checkMirror(t, dir)
	if sum.Sent != 1 || sum.Deduplicated != 1 || sum.Deleted != 1 {
		t.Errorf("second pass: sent %d, deduplicated %d, deleted %d; want 1, 1, 1: %v", sum.Sent, sum.Deduplicated, sum.Deleted, sum)
	}
	if sum.LiteralBytes > 64<<10 || sum.MatchedBytes < 2<<20 {
		t.Errorf("delta sent %d literal and %d matched bytes; want a small delta", sum.LiteralBytes, sum.MatchedBytes)
	}
	if sum.WireBytes > 256<<10 {
		t.Errorf("second pass used %d wire bytes; want far fewer than the file's %d", sum.WireBytes, len(big))
	}

	// Third pass: nothing to do.
	sum = syncOK(t, c)
	if sum.Sent+sum.Deduplicated+sum.Deleted+sum.Metadata != 0 {
		t.Errorf("idle pass changed something: %v", sum)
	}
}

func TestSyncRetriesAbortedUpload(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f.bin", randomBytes(7, 256<<10))
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	syncOK(t, c)

	content := randomBytes(7, 256<<10)
	copy(content[1000:], "changed")
	writeFile(t, dir, "f.bin", content)
	// Keep the mtime change visible even on coarse clocks.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "f.bin"), future, future); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.abortOnce["f.bin"] = true
	f.mu.Unlock()
	sum := syncOK(t, c)
	f.checkMirror(t, dir)
	if sum.Sent != 1 {
		t.Errorf("sent %d files, want 1 after the retry: %v", sum.Sent, sum)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.uploads["f.bin"] != 3 || f.signatures != 2 {
		t.Errorf("f.bin uploaded %d times with %d signatures; want 3 (first pass, aborted, retried) and 2", f.uploads["f.bin"], f.signatures)
	}
}

// TestSyncResourceExhaustedIsPerFile checks that a file the server refuses
// with RESOURCE_EXHAUSTED fails alone, is reported, and goes through on
// the next pass.
func TestSyncResourceExhaustedIsPerFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "big", randomBytes(3, 100<<10))
	writeFile(t, dir, "small", []byte("small"))
	f := newFakeServer()
	f.exhaustOnce["big"] = true
	c := f.serve(t, dir, nil)
	sum, err := c.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("SyncOnce: %v", err)
	}
	if sum.Failed != 1 || len(sum.FailedPaths) != 1 || sum.FailedPaths[0] != "big" || sum.Sent != 1 {
		t.Fatalf("first pass: sent %d, failed %q; want small sent and big failed", sum.Sent, sum.FailedPaths)
	}
	sum = syncOK(t, c)
	if sum.Sent != 1 {
		t.Errorf("second pass sent %d files, want big", sum.Sent)
	}
	f.checkMirror(t, dir)
}

func TestSyncDryRunChangesNothing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x", []byte("x"))
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.DryRun = true })
	sum, err := c.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !sum.DryRun || len(sum.Plan.Send) != 1 {
		t.Errorf("dry run plan %v, want one file to send", sum.Plan)
	}
	var buf bytes.Buffer
	if err := WritePlan(&buf, sum.Plan); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "send    x (new, 1 B)\n" {
		t.Errorf("WritePlan = %q", got)
	}
	if len(f.nodes) != 0 {
		t.Errorf("dry run changed the server: %d entries", len(f.nodes))
	}
}

func TestSyncIgnoresExcludedPaths(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, IgnoreFile, []byte("*.log\nbuild/\n"))
	writeFile(t, dir, "keep.txt", []byte("k"))
	writeFile(t, dir, "x.log", []byte("l"))
	writeFile(t, dir, "build/out", []byte("o"))
	writeFile(t, dir, "tmp/t", []byte("t"))
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Excludes = []string{"tmp"} })
	syncOK(t, c)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range []string{"x.log", "build", "build/out", "tmp", "tmp/t"} {
		if _, ok := f.nodes[p]; ok {
			t.Errorf("ignored %q reached the server", p)
		}
	}
	for _, p := range []string{"keep.txt", IgnoreFile} {
		if _, ok := f.nodes[p]; !ok {
			t.Errorf("%q did not reach the server", p)
		}
	}
}

func TestSyncUploadStreamFailure(t *testing.T) {
	dir := t.TempDir()
	for i := range 10 {
		writeFile(t, dir, filepath.Join("d", string(rune('a'+i))), randomBytes(uint64(i), 1000))
	}
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Concurrency = 2 })

	// A stream that fails with a server error fails its files, not the
	// pass; the next pass sends them. Their directory fails too: the
	// server makes it for its first file.
	f.mu.Lock()
	f.uploadErr = connect.NewError(connect.CodeInternal, errors.New("broken"))
	f.mu.Unlock()
	sum, err := c.SyncOnce(context.Background())
	if err != nil {
		t.Fatalf("SyncOnce with a broken upload stream: %v", err)
	}
	if sum.Failed != 11 || sum.Sent != 0 {
		t.Errorf("broken stream: failed %d, sent %d; want 11 (10 files and d), 0", sum.Failed, sum.Sent)
	}

	// A stream that loses the server stops the pass as unavailable.
	f.mu.Lock()
	f.uploadErr = connect.NewError(connect.CodeUnavailable, errors.New("going away"))
	f.mu.Unlock()
	if _, err := c.runPass(context.Background(), nil, false); !errors.Is(err, ErrUnavailable) {
		t.Errorf("pass with an unavailable upload stream: %v, want ErrUnavailable", err)
	}

	f.mu.Lock()
	f.uploadErr = nil
	f.mu.Unlock()
	// A message the unavailable pass sent just before it gave up may
	// still reach the fake once the error is lifted, and its files land:
	// the pass then finds them unchanged.
	if sum := syncOK(t, c); sum.Sent+sum.Unchanged != 10 {
		t.Errorf("after recovery sent %d files and found %d unchanged, want 10 in all", sum.Sent, sum.Unchanged)
	}
	f.checkMirror(t, dir)
}

func TestSmallFilesShareUploadMessages(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		writeFile(t, dir, fmt.Sprintf("f%02d", i), randomBytes(uint64(i), 10<<10))
	}
	f := newFakeServer()
	c := f.serve(t, dir, nil)
	if sum := syncOK(t, c); sum.Sent != 30 {
		t.Errorf("sent %d files, want 30", sum.Sent)
	}
	f.checkMirror(t, dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	// 300 KiB fit in one message; each of the streams may have sent its
	// own, but never one message per file.
	if f.messages > DefaultConcurrency {
		t.Errorf("30 small files took %d upload messages, want at most %d", f.messages, DefaultConcurrency)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 2, 300)
	p.file(100)
	p.file(200)
	p.finish()
	if !strings.Contains(buf.String(), "files 2/2") {
		t.Errorf("progress output %q lacks the file count", buf.String())
	}
	var nilBar *progress
	nilBar.file(1) // must not panic
	nilBar.finish()
	if newProgress(nil, 5, 5) != nil {
		t.Error("newProgress without a writer is not nil")
	}
}

// TestPackedFilesSurviveArenaReuse sends many more small files than fit in
// one message over one stream, with sizes that straddle the arena's
// bounds, so that each packed message reuses the bytes the previous one
// was sent from; the server must still get every file intact.
func TestPackedFilesSurviveArenaReuse(t *testing.T) {
	dir := t.TempDir()
	want := 0
	for i := range 200 {
		size := []int{0, 1, 3000, 40 << 10, 200 << 10, maxPackedFileBytes}[i%6]
		writeFile(t, dir, fmt.Sprintf("d%d/f%03d", i%7, i), randomBytes(uint64(i)+100, size))
		want++
	}
	f := newFakeServer()
	c := f.serve(t, dir, func(o *Options) { o.Concurrency = 1 })
	if sum := syncOK(t, c); sum.Sent != want {
		t.Errorf("sent %d files, want %d", sum.Sent, want)
	}
	f.checkMirror(t, dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.messages < 10 {
		t.Errorf("%d upload messages: too few for the arena to be reused", f.messages)
	}
}

func TestSyncOnceWithCheck(t *testing.T) {
	tests := []struct {
		name string
		// presync syncs the tree before the pass under test.
		presync bool
		// duringUpload changes the local tree while the first Upload
		// stream is open, after the pass has scanned it.
		duringUpload func(t *testing.T, dir string)
		// beforeCheck changes the local tree after the pass, before the
		// check is called.
		beforeCheck func(t *testing.T, dir string)
		wantSend    []string
	}{
		{name: "mirrored after an initial pass"},
		{name: "nothing to change", presync: true},
		{
			name: "file added during the upload",
			duringUpload: func(t *testing.T, dir string) {
				writeFile(t, dir, "d/late.txt", []byte("written while the pass uploads"))
			},
			wantSend: []string{"d/late.txt"},
		},
		{
			// The pass's own scan stands for the local tree only while
			// nothing has changed since.
			name: "file changed after a pass that changed something",
			beforeCheck: func(t *testing.T, dir string) {
				writeFile(t, dir, "d/g7.txt", []byte("rewritten after the pass"))
			},
			wantSend: []string{"d/g7.txt"},
		},
		{
			name:    "file added after a pass that changed nothing",
			presync: true,
			beforeCheck: func(t *testing.T, dir string) {
				writeFile(t, dir, "late.txt", []byte("written after the pass"))
			},
			wantSend: []string{"late.txt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 30 {
				writeFile(t, dir, fmt.Sprintf("d/%d/f.txt", i%5), randomBytes(uint64(i), 2000+i))
				writeFile(t, dir, fmt.Sprintf("d/g%d.txt", i), randomBytes(uint64(100+i), 300))
			}
			fs := newFakeServer()
			var once sync.Once
			fs.middleware = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tt.duringUpload != nil && strings.HasSuffix(r.URL.Path, "/Upload") {
						once.Do(func() { tt.duringUpload(t, dir) })
					}
					next.ServeHTTP(w, r)
				})
			}
			c := fs.serve(t, dir, nil)
			if tt.presync {
				syncOK(t, c)
			}
			ctx := context.Background()
			sum, check, err := c.SyncOnceWithCheck(ctx)
			if err != nil {
				t.Fatalf("SyncOnceWithCheck: %v", err)
			}
			if sum.Failed != 0 {
				t.Fatalf("%d failed: %q", sum.Failed, sum.FailedPaths)
			}
			if tt.presync == sum.Changed() {
				t.Errorf("pass changed something: %v, want %v", sum.Changed(), !tt.presync)
			}
			if tt.beforeCheck != nil {
				tt.beforeCheck(t, dir)
			}
			plan, err := check(ctx)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			var send []string
			for _, fc := range plan.Send {
				send = append(send, fc.Local.Path)
			}
			if !slices.Equal(send, tt.wantSend) {
				t.Errorf("check would send %q, want %q (plan %v)", send, tt.wantSend, plan)
			}
			if len(tt.wantSend) == 0 && !plan.Empty() {
				t.Errorf("check plan %v, want empty", plan)
			}
		})
	}
}
