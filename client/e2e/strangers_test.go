package e2e_test

import (
	"bytes"
	"context"
	"encoding/binary"
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

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// Settings of TestStrangers.
const (
	// strangerAttackers is how many requests the strangers keep in
	// flight at once.
	strangerAttackers = 32
	// strangerBomb is what each bomb inflates to.
	strangerBomb = 256 << 20
	// strangerOversize is an uncompressed message just under the
	// server's default --max-message-bytes (64 MiB), so the memory
	// budget, not the message limit, must hold it.
	strangerOversize = 48 << 20
	// defaultMaxMessageBytes is the server's default --max-message-bytes.
	defaultMaxMessageBytes = 64 << 20
	// strangerRSSBound is the bound on the server's peak resident memory
	// with its default limits.
	strangerRSSBound = 256 << 20
)

// TestStrangers runs 8 tenants whose watching clients sync changing
// trees, the garbage client of TestLoad, and 32 strangers that keep
// sending gzip and zstd bombs to health checking, reflection and the
// SyncService, oversized messages and garbage, with and without a token,
// against a server with its default limits. Every request of theirs
// must fail, every honest tree must converge, and the server's peak
// resident memory (VmHWM) must stay under 256 MiB.
func TestStrangers(t *testing.T) {
	dur := 10 * time.Second
	if testing.Short() {
		dur = 6 * time.Second
	}
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
	srv := startServerArgs(t, "--config", config, "--log-level", "info")
	rss := watchRSS(t, srv.cmd.Process.Pid)

	seed := uint64(1)
	if v := os.Getenv("DIRSYNC_STRANGERS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DIRSYNC_STRANGERS_SEED=%q: want a number", v)
		}
		seed = n
	}
	for i := range loadTenants {
		srcs[i] = filepath.Join(dir, "src", fmt.Sprintf("t%d", i))
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		for j := range 40 {
			writeFile(t, srcs[i], fmt.Sprintf("d%d/f%02d", j%4, j), randomBytes(r, 100+r.IntN(32<<10)), 0o644)
		}
		writeFile(t, srcs[i], "big.bin", randomBytes(r, 1<<20), 0o644)
		tok := filepath.Join(dir, fmt.Sprintf("t%d.token", i))
		startProcess(t, "dirsync-client", "--dir", srcs[i], "--server", srv.url(), "--token-file", tok, "--log-level", "info")
	}

	st := newStrangers(t, srv.url(), loadToken(loadTenants))
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	for i := range loadTenants {
		wg.Go(func() { mutate(ctx, t, srcs[i], rand.New(rand.NewPCG(seed, uint64(100+i)))) })
	}
	g := &garbage{t: t, url: srv.url(), token: loadToken(loadTenants), maxMessageBytes: defaultMaxMessageBytes}
	wg.Go(func() { g.run(ctx) })
	for i := range strangerAttackers {
		wg.Go(func() { st.attack(ctx, i) })
	}
	wg.Wait()

	for i := range loadTenants {
		waitMirror(t, srcs[i], roots[i], 2*time.Minute)
	}
	peak, last := rss.stop()
	t.Logf("strangers: %v, %d tenants, %d attackers: %d attacks, all refused; garbage requests %d; server VmHWM %.1f MiB, VmRSS at end %.1f MiB",
		dur, loadTenants, strangerAttackers, st.attacks.Load(), g.requests.Load(), float64(peak)/(1<<20), float64(last)/(1<<20))
	if peak > strangerRSSBound {
		t.Errorf("server peak RSS %d MiB, want below %d MiB", peak>>20, strangerRSSBound>>20)
	}
	select {
	case <-srv.done:
		t.Fatalf("server exited during the attack: %v", srv.err)
	default:
	}
	if ents, err := os.ReadDir(roots[loadTenants]); err != nil || len(ents) != 0 {
		t.Errorf("the strangers' tenant's root holds %d entries (%v), want none", len(ents), err)
	}
	// Hostile requests are the peers' fault, not the server's.
	for _, l := range lines(srv.output.String()) {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("server logged an error: %s", l)
		}
	}
}

// strangers sends hostile requests, each of which must fail.
type strangers struct {
	t       *testing.T
	url     string
	token   string // of a tenant of their own
	gz, zst []byte // bombs
	hc      *http.Client
	attacks atomic.Int64
}

// newStrangers builds the bombs.
func newStrangers(t *testing.T, url, token string) *strangers {
	return &strangers{t: t, url: url, token: token, hc: h2cClient(),
		gz: compressedZeros(t, "gzip", strangerBomb), zst: compressedZeros(t, "zstd", strangerBomb)}
}

// compressedZeros returns n zeros compressed with encoding, built without
// ever holding them.
func compressedZeros(t *testing.T, encoding string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	if encoding == "gzip" {
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	} else {
		zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	zeros := make([]byte, 1<<20)
	for range n / len(zeros) {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// attack sends attacker i's kind of request, again and again, until ctx
// ends: odd attackers with the strangers' token, even ones without.
func (s *strangers) attack(ctx context.Context, i int) {
	token := ""
	if i%2 == 1 {
		token = s.token
	}
	r := rand.New(rand.NewPCG(uint64(i), 7))
	type kind struct {
		name, path, encoding string
		body                 func() []byte
	}
	health := "/grpc.health.v1.Health/Check"
	reflection := "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	kinds := []kind{
		{"gzip bomb to health", health, "gzip", func() []byte { return envelope(1, s.gz) }},
		{"zstd bomb to reflection", reflection, "zstd", func() []byte { return envelope(1, s.zst) }},
		{"gzip bomb to Status", dirsyncv1connect.SyncServiceStatusProcedure, "gzip", func() []byte { return envelope(1, s.gz) }},
		{"zstd bomb to GetManifest", dirsyncv1connect.SyncServiceGetManifestProcedure, "zstd", func() []byte { return envelope(1, s.zst) }},
		{"gzip bomb to ApplyChanges", dirsyncv1connect.SyncServiceApplyChangesProcedure, "gzip", func() []byte { return envelope(1, s.gz) }},
		{"oversized ApplyChanges", dirsyncv1connect.SyncServiceApplyChangesProcedure, "", func() []byte {
			return envelope(0, bytes.Repeat([]byte{0xff}, strangerOversize))
		}},
		{"zstd bomb to Upload", dirsyncv1connect.SyncServiceUploadProcedure, "zstd", func() []byte { return envelope(1, s.zst) }},
		{"garbage to Status", dirsyncv1connect.SyncServiceStatusProcedure, "", func() []byte { return envelope(0, randomBytes(r, 512<<10)) }},
	}
	k := kinds[i%len(kinds)]
	body := k.body()
	for ctx.Err() == nil {
		code := s.post(ctx, k.path, k.encoding, token, body)
		s.attacks.Add(1)
		if code == "0" && ctx.Err() == nil {
			s.t.Errorf("stranger: %s (token %v) succeeded", k.name, token != "")
			return
		}
	}
}

// envelope frames payload as one gRPC message with flags.
func envelope(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// post sends body as a gRPC request and returns its grpc-status; a
// transport error counts as a refusal.
func (s *strangers) post(ctx context.Context, path, encoding, token string, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	if encoding != "" {
		req.Header.Set("Grpc-Encoding", encoding)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
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
