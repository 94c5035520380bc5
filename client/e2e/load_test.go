package e2e_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// Load test settings. The server runs with small limits so that the
// garbage client meets each of them.
const (
	loadTenants         = 8
	loadMaxMessageBytes = 8 << 20
	loadMaxFileBytes    = 64 << 20
	loadMaxUploads      = 16
	// loadRSSBound is a generous bound on the server's peak resident
	// memory: the load needs a few tens of MiB.
	loadRSSBound = 300 << 20
)

// loadDuration is how long the load runs: 60 s, or DIRSYNC_LOAD_SECONDS,
// or 10 s with -short.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("DIRSYNC_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("DIRSYNC_LOAD_SECONDS=%q: want a positive number", v)
		}
		return time.Duration(n) * time.Second
	}
	if testing.Short() {
		return 10 * time.Second
	}
	return 60 * time.Second
}

// TestLoad runs 8 watching clients on 8 tenants of one server, each
// tree changing all the time, while a 9th client sends garbage. Every
// tenant converges, the server's memory stays bounded and the garbage
// client gets nothing but errors.
func TestLoad(t *testing.T) {
	dur := loadDuration(t)
	dir := t.TempDir()
	var cfg strings.Builder
	srcs := make([]string, loadTenants)
	roots := make([]string, loadTenants+1)
	for i := range loadTenants + 1 {
		name := fmt.Sprintf("t%d", i)
		roots[i] = filepath.Join(dir, "roots", name)
		writeSecret(t, dir, name+".token", loadToken(i)+"\n")
		fmt.Fprintf(&cfg, "[[tenant]]\nname = %q\nroot = %q\ntoken_file = %q\n\n", name, roots[i], name+".token")
	}
	config := writeSecret(t, dir, "tenants.toml", cfg.String())
	srv := startServerArgs(t, "--config", config, "--log-level", "info",
		"--max-message-bytes", strconv.Itoa(loadMaxMessageBytes),
		"--max-file-bytes", strconv.Itoa(loadMaxFileBytes),
		"--max-upload-streams", strconv.Itoa(loadMaxUploads))
	rss := watchRSS(t, srv.cmd.Process.Pid)

	for i := range loadTenants {
		srcs[i] = filepath.Join(dir, "src", fmt.Sprintf("t%d", i))
		r := rand.New(rand.NewPCG(uint64(i), 1))
		for j := range 40 {
			writeFile(t, srcs[i], fmt.Sprintf("d%d/f%02d", j%4, j), randomBytes(r, 100+r.IntN(32<<10)), 0o644)
		}
		writeFile(t, srcs[i], "big.bin", randomBytes(r, 1<<20), 0o644)
		tok := filepath.Join(dir, fmt.Sprintf("t%d.token", i))
		startProcess(t, "dirsync-client", "--dir", srcs[i], "--server", srv.url(), "--token-file", tok, "--log-level", "info")
	}

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	for i := range loadTenants {
		wg.Go(func() { mutate(ctx, t, srcs[i], rand.New(rand.NewPCG(uint64(i), 2))) })
	}
	g := &garbage{t: t, url: srv.url(), token: loadToken(loadTenants)}
	wg.Go(func() { g.run(ctx) })
	wg.Wait()

	for i := range loadTenants {
		waitMirror(t, srcs[i], roots[i], 2*time.Minute)
	}
	if ents, err := os.ReadDir(roots[loadTenants]); err != nil || len(ents) != 0 {
		t.Errorf("the garbage tenant's root holds %d entries (%v), want none", len(ents), err)
	}
	peak, last := rss.stop()
	t.Logf("load: %v, %d tenants; garbage requests: %d, all refused (%d flood streams over the cap); server VmHWM %.1f MiB, VmRSS at end %.1f MiB",
		dur, loadTenants, g.requests.Load(), g.exhausted.Load(), float64(peak)/(1<<20), float64(last)/(1<<20))
	if g.exhausted.Load() == 0 {
		t.Error("no flood stream met --max-upload-streams")
	}
	if peak > loadRSSBound {
		t.Errorf("server peak RSS %d MiB, want below %d MiB", peak>>20, loadRSSBound>>20)
	}
	select {
	case <-srv.done:
		t.Fatalf("server exited during the load: %v", srv.err)
	default:
	}
	// Garbage is the peer's fault: nothing of it may reach the server's
	// errors, which are kept for its own failures.
	for _, l := range lines(srv.output.String()) {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("server logged an error: %s", l)
		}
	}
}

// loadToken is the token of tenant i.
func loadToken(i int) string {
	return fmt.Sprintf("load-token-%d-0f3a9c", i)
}

// mutate keeps changing the tree under src until ctx ends: new files,
// rewrites, small edits of a big file (deltas), deletions, directories,
// symlinks and mode changes, about 20 a second.
func mutate(ctx context.Context, t *testing.T, src string, r *rand.Rand) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rel := fmt.Sprintf("d%d/f%02d", r.IntN(6), r.IntN(60))
		path := filepath.Join(src, filepath.FromSlash(rel))
		var err error
		switch r.IntN(10) {
		case 0, 1, 2, 3:
			err = os.MkdirAll(filepath.Dir(path), 0o755)
			if err == nil {
				err = writeAtomic(path, randomBytes(r, r.IntN(48<<10)))
			}
		case 4:
			err = editBig(filepath.Join(src, "big.bin"), r)
		case 5, 6:
			err = os.Remove(path)
		case 7:
			err = os.Chmod(path, []os.FileMode{0o600, 0o644, 0o755}[r.IntN(3)])
		case 8:
			link := filepath.Join(src, fmt.Sprintf("l%d", r.IntN(4)))
			os.Remove(link)
			err = os.Symlink([]string{"d0/f01", "../elsewhere", "/etc/passwd"}[r.IntN(3)], link)
		case 9:
			err = os.RemoveAll(filepath.Join(src, fmt.Sprintf("d%d", 4+r.IntN(2))))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mutate %s: %v", rel, err)
			return
		}
	}
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, as editors do, so the client never reads a half-written file
// it would have to retry.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// editBig overwrites a few bytes in the middle of path in place.
func editBig(path string, r *rand.Rand) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(randomBytes(r, 64), int64(r.IntN(1<<20-64))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssWatcher samples a process's VmHWM and VmRSS from /proc.
type rssWatcher struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak int64 // largest VmHWM seen, bytes
	last int64 // VmRSS at the last sample, bytes
}

// watchRSS samples the memory of process pid every 100 ms until stop.
func watchRSS(t *testing.T, pid int) *rssWatcher {
	w := &rssWatcher{done: make(chan struct{})}
	sample := func() {
		hwm, rss, err := procMemory(pid)
		if err != nil {
			return // the process is gone; the test reports that itself
		}
		w.mu.Lock()
		w.peak = max(w.peak, hwm)
		w.last = rss
		w.mu.Unlock()
	}
	if _, _, err := procMemory(pid); err != nil {
		t.Skipf("cannot read the server's memory from /proc: %v", err)
	}
	w.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	})
	return w
}

// stop ends sampling and returns the peak VmHWM and the last VmRSS.
func (w *rssWatcher) stop() (peak, last int64) {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.last
}

// procMemory reads VmHWM and VmRSS, in bytes, from /proc/pid/status.
func procMemory(pid int) (hwm, rss int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q", key, val)
		}
		if key == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
	}
	if hwm == 0 || rss == 0 {
		return 0, 0, errors.New("no VmHWM or VmRSS")
	}
	return hwm, rss, nil
}

// garbage is the 9th client: it has a tenant of its own, and sends
// random gRPC frames, malformed protobuf, wrong and missing tokens, huge
// declared sizes, oversize messages, hostile paths and more streams than
// allowed. Every answer must be an error.
type garbage struct {
	t     *testing.T
	url   string
	token string
	// maxMessageBytes is the server's --max-message-bytes;
	// loadMaxMessageBytes if 0.
	maxMessageBytes int
	// requests counts the garbage requests and items sent; exhausted
	// the flood streams refused with ResourceExhausted.
	requests  atomic.Int64
	exhausted atomic.Int64
}

// run sends garbage until ctx ends.
func (g *garbage) run(ctx context.Context) {
	r := rand.New(rand.NewPCG(99, 99))
	httpClient := h2cClient()
	attacks := []func(context.Context, *rand.Rand, *http.Client){
		g.randomFrames, g.malformedProto, g.wrongTokens, g.hugeSizes, g.oversize, g.hostilePaths, g.streamFlood,
	}
	// Paced, so that the garbage shares the two CI cores with the load
	// instead of starving it.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		attacks[i%len(attacks)](ctx, r, httpClient)
	}
}

// refused fails the test if an answer was not an error. what names the
// request.
func (g *garbage) refused(ctx context.Context, what string, ok bool) {
	g.requests.Add(1)
	if ok && ctx.Err() == nil {
		g.t.Errorf("garbage client: %s succeeded", what)
	}
}

// h2cClient returns an HTTP client that speaks HTTP/2 without TLS.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// client returns a gRPC client of the service with the given token ("" for
// none).
func (g *garbage) client(hc *http.Client, token string) dirsyncv1connect.SyncServiceClient {
	opts := []connect.ClientOption{connect.WithGRPC(), connect.WithSendMaxBytes(1 << 30)}
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	return dirsyncv1connect.NewSyncServiceClient(hc, g.url, opts...)
}

// bearer is a client interceptor that adds a bearer token.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// rawGRPC posts body as a gRPC request to procedure and returns the
// grpc-status of the answer; a transport error counts as a refusal.
func (g *garbage) rawGRPC(ctx context.Context, hc *http.Client, procedure, token string, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url+procedure, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "transport error"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if st := resp.Trailer.Get("Grpc-Status"); st != "" {
		return st
	}
	return resp.Header.Get("Grpc-Status")
}

// frame returns payload in a gRPC envelope that declares size bytes.
func frame(size uint32, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(b[1:], size)
	return append(b, payload...)
}

// randomFrames sends random bytes, in envelopes with random or true
// lengths, on the Upload stream.
func (g *garbage) randomFrames(ctx context.Context, r *rand.Rand, hc *http.Client) {
	payload := randomBytes(r, r.IntN(4096))
	body := randomBytes(r, r.IntN(64))
	body = append(body, frame(uint32(len(payload)), payload)...)
	st := g.rawGRPC(ctx, hc, dirsyncv1connect.SyncServiceUploadProcedure, g.token, body)
	g.refused(ctx, "random frames (status "+st+")", st == "0")
}

// malformedProto sends well-framed messages that are not protobuf: their
// first tag has wire type 7, which does not exist.
func (g *garbage) malformedProto(ctx context.Context, r *rand.Rand, hc *http.Client) {
	payload := append([]byte{0x0f}, randomBytes(r, r.IntN(512))...)
	for _, proc := range []string{
		dirsyncv1connect.SyncServiceApplyChangesProcedure,
		dirsyncv1connect.SyncServiceGetManifestProcedure,
		dirsyncv1connect.SyncServiceGetSignatureProcedure,
		dirsyncv1connect.SyncServiceUploadProcedure,
		dirsyncv1connect.SyncServiceStatusProcedure,
	} {
		st := g.rawGRPC(ctx, hc, proc, g.token, frame(uint32(len(payload)), payload))
		g.refused(ctx, "malformed protobuf to "+proc+" (status "+st+")", st == "0")
	}
}

// wrongTokens calls every RPC with a wrong token, a malformed header and
// no token, including another tenant's token with a typo.
func (g *garbage) wrongTokens(ctx context.Context, r *rand.Rand, hc *http.Client) {
	for _, tok := range []string{"", "wrong-" + strconv.Itoa(r.IntN(1000)), loadToken(0) + "x", strings.Repeat("A", 8<<10)} {
		c := g.client(hc, tok)
		_, err := c.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
		g.refused(ctx, "Status with a bad token", err == nil)
		_, err = c.ApplyChanges(ctx, connect.NewRequest(&dirsyncv1.ApplyChangesRequest{}))
		g.refused(ctx, "ApplyChanges with a bad token", err == nil)
		stream, err := c.GetManifest(ctx, connect.NewRequest(&dirsyncv1.GetManifestRequest{}))
		if err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
			stream.Close()
		}
		g.refused(ctx, "GetManifest with a bad token", err == nil)
		resps, err := g.upload(ctx, c, nil)
		g.refused(ctx, "Upload with a bad token", err == nil || len(resps) > 0)
	}
}

// upload sends reqs on one stream and returns the answers and the
// stream's error.
func (g *garbage) upload(ctx context.Context, c dirsyncv1connect.SyncServiceClient, reqs []*dirsyncv1.UploadRequest) ([]*dirsyncv1.UploadResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream := c.Upload(ctx)
	for _, req := range reqs {
		if stream.Send(req) != nil {
			break
		}
	}
	stream.CloseRequest()
	var resps []*dirsyncv1.UploadResponse
	for {
		resp, err := stream.Receive()
		if err != nil {
			stream.CloseResponse()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return resps, err
		}
		resps = append(resps, resp)
	}
}

// failedFiles fails the test for each answer that is not an error.
func (g *garbage) failedFiles(ctx context.Context, what string, resps []*dirsyncv1.UploadResponse) {
	for _, resp := range resps {
		g.refused(ctx, fmt.Sprintf("%s of %q", what, resp.GetPath()), resp.GetCode() == 0)
	}
}

// hugeSizes declares files far over --max-file-bytes, and some with a
// size that does not match what follows.
func (g *garbage) hugeSizes(ctx context.Context, r *rand.Rand, hc *http.Client) {
	c := g.client(hc, g.token)
	sum := sha256.Sum256(nil)
	var reqs []*dirsyncv1.UploadRequest
	for _, size := range []int64{loadMaxFileBytes + 1, 1 << 40, 1<<63 - 1} {
		reqs = append(reqs, &dirsyncv1.UploadRequest{
			Header: &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{
				Path: fmt.Sprintf("huge%d", r.IntN(100)), Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE,
				Mode: 0o644, Size: size, Sha256: sum[:],
			}},
			Ops:    []*dirsyncv1.DeltaOp{{Op: &dirsyncv1.DeltaOp_Literal{Literal: randomBytes(r, 1024)}}},
			Finish: true,
		})
	}
	resps, err := g.upload(ctx, c, reqs)
	g.requests.Add(1)
	if err != nil && ctx.Err() == nil {
		g.t.Errorf("garbage client: huge sizes ended the stream: %v", err)
	}
	g.failedFiles(ctx, "huge declared size", resps)
}

// oversize sends a message over --max-message-bytes, and an envelope
// that declares 1 GiB.
func (g *garbage) oversize(ctx context.Context, r *rand.Rand, hc *http.Client) {
	st := g.rawGRPC(ctx, hc, dirsyncv1connect.SyncServiceApplyChangesProcedure, g.token, frame(1<<30, randomBytes(r, 1024)))
	g.refused(ctx, "envelope declaring 1 GiB (status "+st+")", st == "0")
	c := g.client(hc, g.token)
	big := &dirsyncv1.ApplyChangesRequest{Changes: []*dirsyncv1.Change{{Action: &dirsyncv1.Change_Symlink{
		Symlink: &dirsyncv1.Entry{Path: "big", LinkTarget: strings.Repeat("x", cmp.Or(g.maxMessageBytes, loadMaxMessageBytes)+1)},
	}}}}
	_, err := c.ApplyChanges(ctx, connect.NewRequest(big))
	g.refused(ctx, "oversize ApplyChanges", err == nil)
}

// hostilePaths sends paths that leave the root.
func (g *garbage) hostilePaths(ctx context.Context, r *rand.Rand, hc *http.Client) {
	c := g.client(hc, g.token)
	var changes []*dirsyncv1.Change
	for _, p := range []string{"../x", "/etc/x", "a/../../x", "a\x00b", "", ".", strings.Repeat("n", 300)} {
		changes = append(changes,
			&dirsyncv1.Change{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: &dirsyncv1.Entry{Path: p, Mode: 0o755}}},
			&dirsyncv1.Change{Action: &dirsyncv1.Change_Delete{Delete: p}})
	}
	resp, err := c.ApplyChanges(ctx, connect.NewRequest(&dirsyncv1.ApplyChangesRequest{Changes: changes}))
	if err != nil {
		g.refused(ctx, "hostile paths", false)
		return
	}
	for _, res := range resp.Msg.GetResults() {
		g.refused(ctx, fmt.Sprintf("change of %q", res.GetPath()), res.GetCode() == 0)
	}
}

// streamFlood opens more Upload streams than the tenant may have, each
// holding an unfinished file, and abandons them.
func (g *garbage) streamFlood(ctx context.Context, r *rand.Rand, hc *http.Client) {
	c := g.client(hc, g.token)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sum := sha256.Sum256([]byte("x"))
	var wg, sent sync.WaitGroup
	n := loadMaxUploads + 1 + r.IntN(loadMaxUploads)
	sent.Add(n)
	for i := range n {
		wg.Go(func() {
			stream := c.Upload(fctx)
			hdr := &dirsyncv1.UploadRequest{Header: &dirsyncv1.UploadHeader{Entry: &dirsyncv1.Entry{
				Path: fmt.Sprintf("flood%d", i), Type: dirsyncv1.EntryType_ENTRY_TYPE_FILE, Mode: 0o644, Size: 1, Sha256: sum[:],
			}}}
			stream.Send(hdr)
			// Every stream is open before any ends; then each ends with
			// its file unfinished.
			sent.Done()
			sent.Wait()
			stream.CloseRequest()
			_, err := stream.Receive()
			if connect.CodeOf(err) == connect.CodeResourceExhausted {
				g.exhausted.Add(1)
			}
			g.refused(ctx, "flood stream", err == nil)
			stream.CloseResponse()
		})
	}
	wg.Wait()
}
