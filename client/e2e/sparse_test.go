package e2e_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// allocated returns the bytes the file system allocated for the file at
// name (st_blocks).
func allocated(t *testing.T, name string) int64 {
	t.Helper()
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no st_blocks on this system")
	}
	return st.Blocks * 512
}

// writeSparse makes the file rel under root size bytes long, all hole but
// for extentSize random bytes at each of offsets.
func writeSparse(t *testing.T, root, rel string, size int64, offsets []int64, r *rand.Rand) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, rel), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range offsets {
		if _, err := f.WriteAt(randomBytes(r, extentSize), off); err != nil {
			t.Fatal(err)
		}
	}
}

// extentSize is the size of each data extent of a writeSparse file.
const extentSize = 256 << 10

// sparseSlack is how many more bytes the server's copy of a sparse file
// may have allocated than the client's: a few blocks.
const sparseSlack = 16 << 10

// TestSparseFilesStaySparse checks that holes stay holes on the server
// (rsync -S), that they do not cross the wire, and that a delta against
// a sparse base keeps them: large files (written with O_DIRECT), small
// ones (buffered), and the self-compressed zstd stream.
func TestSparseFilesStaySparse(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name    string
		size    int64
		offsets []int64
		flags   []string
	}{
		{"large", 64 * mib, []int64{0, 20 * mib, 64*mib - extentSize}, nil},
		{"trailing hole", 32 * mib, []int64{mib}, nil},
		{"small", 4 * mib, []int64{mib}, nil},
		{"self-compressed", 64 * mib, []int64{0, 30 * mib}, []string{"--compress", "zstd"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 18))
			src, dst := t.TempDir(), t.TempDir()
			writeSparse(t, src, "sparse.img", tt.size, tt.offsets, r)
			s := startServer(t, dst)
			syncOnce(t, src, s, tt.flags...)
			requireMirror(t, src, dst)
			data := int64(len(tt.offsets)) * extentSize
			// Message compression would shrink zeros sent as
			// literals too: the literal bytes tell what was sent.
			st := status(t, s)
			if got := st.GetLiteralBytes(); got != data {
				t.Errorf("server received %d literal bytes for %d bytes of data in a %d-byte file", got, data, tt.size)
			}
			if got := st.GetBytesReceived(); got > data+mib {
				t.Errorf("server received %d bytes for %d bytes of data in a %d-byte file", got, data, tt.size)
			}
			checkAllocated(t, src, dst, "sparse.img")

			// New data in a hole goes as a delta against the
			// sparse copy, which must stay sparse.
			f, err := os.OpenFile(filepath.Join(src, "sparse.img"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(randomBytes(r, 4096), tt.size/2+8192); err != nil {
				t.Fatal(err)
			}
			f.Close()
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(src, "sparse.img"), later, later); err != nil {
				t.Fatal(err)
			}
			syncOnce(t, src, s, tt.flags...)
			requireMirror(t, src, dst)
			checkAllocated(t, src, dst, "sparse.img")
		})
	}
}

// checkAllocated fails the test unless the server's copy of rel has
// about as many blocks allocated as the client's.
func checkAllocated(t *testing.T, src, dst, rel string) {
	t.Helper()
	want, got := allocated(t, filepath.Join(src, rel)), allocated(t, filepath.Join(dst, rel))
	if got > want+sparseSlack {
		t.Errorf("%s: %d bytes allocated on the server, %d on the client", rel, got, want)
	}
}
