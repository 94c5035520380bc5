package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// The fault tests kill -9 one side in the middle of a sync, over and over,
// at random points, and check after every round that the server never
// shows a partial or corrupt file at its final path, that no temporary
// file outlives a restart, and that the trees converge once the killed
// side is back. DIRSYNC_FAULT_SEED replays a run (every run logs its
// seed); DIRSYNC_FAULT_ROUNDS changes the number of rounds.

// Names the server gives its own hidden files (server/tempfile.go and
// server/partial.go); they never hold a file at its final path.
const (
	serverTempPrefix    = ".dirsync-tmp-"
	serverPartialPrefix = ".dirsync-tmp-partial-"
)

// Shape of the tree the fault driver mutates.
const (
	faultLargeFiles = 2       // large files, rewritten or edited in place
	faultLargeMin   = 1 << 20 // smallest large file
	faultLargeMax   = 3 << 20 // largest large file
	faultSmallFiles = 300     // pool of small file names
	faultSmallMax   = 8 << 10 // largest small file
)

func TestFaultsKillServer(t *testing.T) {
	t.Parallel() // with TestFaultsKillClient: both mostly wait
	runFaultRounds(t, func(t *testing.T, h *faultHarness) {
		h.server.kill()
		h.checkFinalPaths(t, "after the server was killed")
		stale := h.tempFiles(t)
		h.server = startServerOn(t, h.dst, h.server.addr)
		h.checkRemoved(t, stale)
	})
}

func TestFaultsKillClient(t *testing.T) {
	t.Parallel()
	runFaultRounds(t, func(t *testing.T, h *faultHarness) {
		h.client.kill()
		h.checkFinalPaths(t, "after the client was killed")
		h.client = startWatch(t, h.src, h.server)
	})
}

// faultHarness is the state of one fault test: a client tree, a server
// tree, the running binaries, and every version of every file the driver
// wrote.
type faultHarness struct {
	src, dst string
	stage    string // where files are written before they move into src
	server   *server
	client   *process
	r        *rand.Rand
	// written holds, per path, the SHA-256 of every content the driver
	// ever wrote there: the only contents the server may show.
	written map[string]map[[32]byte]bool
}

// runFaultRounds builds a tree, syncs it, then runs rounds of: change the
// tree, wait until the server has received a random part of the change,
// fault (which kills and restarts one side), check, and wait for the trees
// to converge.
func runFaultRounds(t *testing.T, fault func(t *testing.T, h *faultHarness)) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	if v := os.Getenv("DIRSYNC_FAULT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DIRSYNC_FAULT_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("DIRSYNC_FAULT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DIRSYNC_FAULT_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d, %d rounds (replay with DIRSYNC_FAULT_SEED=%d)", seed, rounds, seed)

	h := &faultHarness{
		src:     t.TempDir(),
		dst:     t.TempDir(),
		stage:   t.TempDir(),
		r:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		written: map[string]map[[32]byte]bool{},
	}
	for i := range faultLargeFiles {
		h.writeLarge(t, i)
	}
	for i := range faultSmallFiles {
		if h.r.IntN(3) > 0 {
			h.writeSmall(t, i)
		}
	}
	h.server = startServer(t, h.dst)
	h.client = startWatch(t, h.src, h.server, "--compress", "none")
	waitMirror(t, h.src, h.dst, 60*time.Second)

	start := time.Now()
	midSync := 0
	for round := range rounds {
		roundStart := time.Now()
		before := status(t, h.server).GetBytesReceived()
		changed := h.mutate(t)
		// Kill once the server has received a random part of what
		// changed, or once it holds the mirror already.
		threshold := before + 1 + h.r.Int64N(max(changed*9/10, 1))
		waitReceived(t, h.server, threshold)
		fault(t, h)
		mid := diffTrees(h.src, h.dst) != ""
		if mid {
			midSync++
		}
		faulted := time.Now()
		// The mirror holds the client's latest versions: nothing partial.
		waitMirror(t, h.src, h.dst, 60*time.Second)
		t.Logf("round %d: changed %d bytes, fault after %d received (mid-sync: %v), converged %v after the fault, round took %v",
			round, changed, threshold-before, mid, time.Since(faulted).Round(time.Millisecond), time.Since(roundStart).Round(time.Millisecond))
	}
	t.Logf("%d rounds in %v; %d faults hit in the middle of a sync", rounds, time.Since(start).Round(time.Millisecond), midSync)
	if midSync == 0 {
		t.Errorf("no fault hit the middle of a sync: the test proved nothing")
	}
}

// waitReceived polls the server's Status until it has received threshold
// request bytes in all, or until what it received has not grown for a
// while: the change was smaller than the threshold.
func waitReceived(t *testing.T, s *server, threshold int64) {
	t.Helper()
	rpc := rpcClient(s)
	last, grew := int64(-1), time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := rpc.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
		cancel()
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		n := resp.Msg.GetBytesReceived()
		switch {
		case n >= threshold:
			return
		case n != last:
			last, grew = n, time.Now()
		case time.Since(grew) > 300*time.Millisecond:
			return // the change took fewer bytes than the threshold
		}
		time.Sleep(time.Millisecond)
	}
}

// mutate changes the client tree as a user might between two faults, and
// returns about how many new bytes it wrote: what a sync must send.
func (h *faultHarness) mutate(t *testing.T) int64 {
	t.Helper()
	var n int64
	for i := range faultLargeFiles {
		if h.r.IntN(3) > 0 {
			n += h.writeLarge(t, i)
		}
	}
	for range 30 + h.r.IntN(70) {
		i := h.r.IntN(faultSmallFiles)
		if h.r.IntN(8) == 0 {
			if err := os.Remove(filepath.Join(h.src, smallPath(i))); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		n += h.writeSmall(t, i)
	}
	return n
}

// smallPath names small file i.
func smallPath(i int) string {
	return fmt.Sprintf("small/d%02d/f%03d.txt", i%17, i)
}

// writeLarge gives large file i a new content: fresh random bytes, or its
// old content with a random stretch rewritten, so that some uploads are
// deltas. It returns the number of new bytes.
func (h *faultHarness) writeLarge(t *testing.T, i int) int64 {
	t.Helper()
	rel := fmt.Sprintf("large/%d.bin", i)
	old, err := os.ReadFile(filepath.Join(h.src, rel))
	var data []byte
	var fresh int
	if err == nil && h.r.IntN(2) == 0 {
		data = old
		off := h.r.IntN(len(data))
		edit := h.random(min(len(data)-off, 1+h.r.IntN(256<<10)))
		fresh = copy(data[off:], edit)
	} else {
		data = h.random(faultLargeMin + h.r.IntN(faultLargeMax-faultLargeMin))
		fresh = len(data)
	}
	h.write(t, rel, data, 0o644)
	return int64(fresh)
}

// writeSmall gives small file i a new content and mode.
func (h *faultHarness) writeSmall(t *testing.T, i int) int64 {
	t.Helper()
	data := h.random(h.r.IntN(faultSmallMax))
	mode := []fs.FileMode{0o644, 0o600, 0o755}[h.r.IntN(3)]
	h.write(t, smallPath(i), data, mode)
	return int64(len(data))
}

// random returns n random bytes drawn from the harness's seed.
func (h *faultHarness) random(n int) []byte {
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], h.r.Uint64())
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// write writes a file in the client tree and records its content. The
// file is written beside the tree and renamed into it, so that the client
// only ever sees whole versions: an empty or half-written file at the
// path would be a version too, and a faithful mirror may show it.
func (h *faultHarness) write(t *testing.T, rel string, data []byte, mode fs.FileMode) {
	t.Helper()
	staged := filepath.Join(h.stage, "next")
	writeFile(t, h.stage, "next", data, mode)
	final := filepath.Join(h.src, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staged, final); err != nil {
		t.Fatal(err)
	}
	if h.written[rel] == nil {
		h.written[rel] = map[[32]byte]bool{}
	}
	h.written[rel][sha256.Sum256(data)] = true
}

// checkFinalPaths fails unless every regular file the server shows at a
// final path (any name but its hidden temporary ones) holds a complete
// version of that path that the driver wrote.
func (h *faultHarness) checkFinalPaths(t *testing.T, when string) {
	t.Helper()
	checked := 0
	err := filepath.WalkDir(h.dst, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), serverTempPrefix) {
			return err
		}
		rel, err := filepath.Rel(h.dst, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		if !h.written[filepath.ToSlash(rel)][sha256.Sum256(data)] {
			t.Errorf("%s: %s holds %d bytes that are no version the client wrote: partial or corrupt", when, rel, len(data))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: walk server tree: %v", when, err)
	}
	if checked == 0 {
		t.Fatalf("%s: the server tree has no files", when)
	}
}

// tempFiles lists the server's temporary files in the tree. Kept partial
// uploads are not temporary files: they are meant to survive, hidden, to
// be resumed.
func (h *faultHarness) tempFiles(t *testing.T) []string {
	t.Helper()
	var temps []string
	filepath.WalkDir(h.dst, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), serverTempPrefix) && !strings.HasPrefix(d.Name(), serverPartialPrefix) {
			temps = append(temps, path)
		}
		return err
	})
	return temps
}

// checkRemoved fails if one of the temporary files a killed server left
// survived the next server's start. The client, reconnecting at once, may
// have new uploads in flight by now, so temporary files of other names are
// expected.
func (h *faultHarness) checkRemoved(t *testing.T, stale []string) {
	t.Helper()
	for _, path := range stale {
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("temporary file survived the server's start: %s (lstat: %v)", path, err)
		}
	}
}
