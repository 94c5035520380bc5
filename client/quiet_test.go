package client

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQuietWatch(t *testing.T) {
	tests := []struct {
		name   string
		ignore string
		// change does something to the tree under dir after the
		// watches are in place.
		change    func(t *testing.T, dir string)
		wantQuiet bool
	}{
		{name: "nothing", change: func(*testing.T, string) {}, wantQuiet: true},
		{name: "every file read, as a pass does", change: func(t *testing.T, dir string) {
			readTree(t, dir)
		}, wantQuiet: true},
		{name: "file rewritten", change: func(t *testing.T, dir string) {
			writeFile(t, dir, "a/b/f1", []byte("new"))
		}, wantQuiet: false},
		{name: "file created at the root", change: func(t *testing.T, dir string) {
			writeFile(t, dir, "new", nil)
		}, wantQuiet: false},
		{name: "directory created", change: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "a/b/c"))
		}, wantQuiet: false},
		{name: "file removed", change: func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, "a/f0"))
		}, wantQuiet: false},
		{name: "mode changed", change: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "a/b/f1"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantQuiet: false},
		{name: "mtime changed", change: func(t *testing.T, dir string) {
			old := time.Unix(1e9, 0)
			if err := os.Chtimes(filepath.Join(dir, "a/b/f1"), old, old); err != nil {
				t.Fatal(err)
			}
		}, wantQuiet: false},
		{name: "change in an ignored directory", ignore: "skip/\n", change: func(t *testing.T, dir string) {
			writeFile(t, dir, "skip/x/f", []byte("new"))
		}, wantQuiet: true},
		{name: "change beside an ignored directory", ignore: "skip\n", change: func(t *testing.T, dir string) {
			writeFile(t, dir, "a/b/f1", []byte("new"))
		}, wantQuiet: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a/f0", []byte("zero"))
			writeFile(t, dir, "a/b/f1", []byte("one"))
			writeFile(t, dir, "skip/x/f", []byte("old"))
			if tt.ignore != "" {
				writeFile(t, dir, IgnoreFile, []byte(tt.ignore))
			}
			q := startQuiet(t, dir)
			defer q.close()
			tt.change(t, dir)
			if got := q.quiet(); got != tt.wantQuiet {
				t.Fatalf("quiet() = %v, want %v", got, tt.wantQuiet)
			}
			// A change is remembered.
			if !tt.wantQuiet && q.quiet() {
				t.Fatal("second quiet() = true after a change")
			}
		})
	}
}

func TestQuietWatchSymlinkedRoot(t *testing.T) {
	real, link := symlinkedDir(t)
	writeFile(t, real, "a/f", []byte("old"))
	q := startQuiet(t, link)
	defer q.close()
	writeFile(t, real, "a/f", []byte("new"))
	if q.quiet() {
		t.Fatal("a change below a symlinked root went unseen")
	}
}

func TestQuietWatchRemovesMarker(t *testing.T) {
	q := startQuiet(t, t.TempDir())
	if !q.quiet() || !q.quiet() {
		t.Fatal("an untouched tree is not quiet")
	}
	q.close()
	if _, err := os.Stat(q.marker); !os.IsNotExist(err) {
		t.Fatalf("marker directory left behind: %v", err)
	}
}

func TestSyncAndVerify(t *testing.T) {
	tests := []struct {
		name string
		// duringPass, if set, changes the tree once the first upload
		// reaches the server.
		duringPass func(t *testing.T, dir string)
		wantPlan   bool // a plan remains: the server lags the tree
		wantRescan bool // the check scanned the tree again
	}{
		{name: "quiet tree"},
		{name: "file added during the pass", duringPass: func(t *testing.T, dir string) {
			writeFile(t, dir, "late", []byte("late"))
		}, wantPlan: true, wantRescan: true},
		{name: "file removed during the pass", duringPass: func(t *testing.T, dir string) {
			remove(t, filepath.Join(dir, "d/f3"))
		}, wantPlan: true, wantRescan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range 5 {
				writeFile(t, dir, "d/f"+string(rune('0'+i)), []byte(strings.Repeat("x", 100*i)))
			}
			var logs lockedBuffer
			f := newFakeServer()
			var once sync.Once
			if tt.duringPass != nil {
				f.middleware = func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if strings.HasSuffix(r.URL.Path, "/Upload") {
							once.Do(func() { tt.duringPass(t, dir) })
						}
						next.ServeHTTP(w, r)
					})
				}
			}
			c := f.serve(t, dir, func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			var passes int
			plan, err := c.SyncAndVerify(context.Background(), func(Summary) { passes++ })
			if err != nil {
				t.Fatalf("SyncAndVerify: %v", err)
			}
			if passes != 1 {
				t.Fatalf("passDone called %d times, want 1", passes)
			}
			if plan.Empty() == tt.wantPlan {
				t.Fatalf("plan %v; want a remaining plan: %v", plan, tt.wantPlan)
			}
			fast := strings.Contains(logs.String(), "nothing changed locally during the pass")
			if fast == tt.wantRescan {
				t.Fatalf("check reused the pass's scan: %v; want a rescan: %v", fast, tt.wantRescan)
			}
			if !tt.wantPlan {
				f.checkMirror(t, dir)
			}
		})
	}
}

// startQuiet starts a quietWatch on dir for a client of its own.
func startQuiet(t *testing.T, dir string) *quietWatch {
	t.Helper()
	c, err := New(Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	q := c.watchQuiet()
	if q == nil {
		t.Fatal("watchQuiet returned nil on a small tree")
	}
	return q
}

// symlinkedDir returns a new empty directory and a symlink to it.
func symlinkedDir(t *testing.T) (real, link string) {
	t.Helper()
	real = t.TempDir()
	link = filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	return real, link
}

// readTree reads every regular file under dir.
func readTree(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(name string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		_, err = os.ReadFile(name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mkdir makes the directory name.
func mkdir(t *testing.T, name string) {
	t.Helper()
	if err := os.Mkdir(name, 0o755); err != nil {
		t.Fatal(err)
	}
}

// remove removes name.
func remove(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}
