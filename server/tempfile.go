package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/dirsync/dirsync/engine"
)

// tempPrefix starts the name of every temporary file the server makes. The
// server never lists such names, refuses them from peers, and removes them
// at start: they can only be left over from a run that stopped halfway.
const tempPrefix = ".dirsync-tmp-"

// isTempName reports whether the file name name (one path component) is
// that of a server temporary file.
func isTempName(name string) bool {
	return strings.HasPrefix(name, tempPrefix)
}

// tempPath returns a fresh temporary name in the directory dir ("" for the
// root).
func tempPath(dir string) string {
	var b [8]byte
	rand.Read(b[:])
	return path.Join(dir, tempPrefix+hex.EncodeToString(b[:]))
}

// createTemp creates a new, empty temporary file in the directory dir of
// d ("" for d itself), readable and writable by the server only until it
// is committed. It returns the file and its name relative to d.
func (s *Server) createTemp(d *os.Root, dir string) (*os.File, string, error) {
	return createFresh(dir, func(name string) (*os.File, error) {
		return d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	})
}

// createTempIn creates a new temporary file in the directory d, as
// createTemp does, or through file, the same directory for the *at calls,
// when it is not nil: then with the permission bits perm (see
// [createPerm]) instead of 0600.
func (s *Server) createTempIn(d *os.Root, file *dirFile, perm uint32) (*os.File, string, error) {
	if file == nil {
		return s.createTemp(d, "")
	}
	return createFresh("", func(name string) (*os.File, error) {
		return file.createExclusive(name, perm)
	})
}

// createFresh creates a file under a fresh temporary name in dir with
// create, which must fail with fs.ErrExist when the name is taken.
func createFresh(dir string, create func(name string) (*os.File, error)) (*os.File, string, error) {
	for range 4 {
		name := tempPath(dir)
		f, err := create(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create temporary file: %w", err)
		}
		return f, name, nil
	}
	return nil, "", errors.New("create temporary file: names keep colliding")
}

// discardTemp closes f, if not nil, and removes the temporary file name of
// d, logging a failure since there is no caller left to handle it.
func (s *Server) discardTemp(d *os.Root, f *os.File, name string) {
	if f != nil {
		f.Close()
	}
	if err := d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("remove temporary file", "path", name, "error", err)
	}
}

// commitFile finishes the complete and verified temporary file f, named
// tmp: it gives it mode and mtime, makes it durable, and renames it over
// rel, replacing a directory there if need be. It closes f and returns the
// content record of the file in place, with sum as its hash. On failure the
// caller removes tmp.
func (s *Server) commitFile(f *os.File, tmp, rel string, mode uint32, mtimeNs int64, sum [32]byte) (content, error) {
	defer f.Close()
	if err := f.Chmod(engine.FileMode(mode)); err != nil {
		return content{}, fmt.Errorf("chmod %q: %w", rel, err)
	}
	if err := s.root.Chtimes(tmp, time.Time{}, time.Unix(0, mtimeNs)); err != nil {
		return content{}, fmt.Errorf("set mtime of %q: %w", rel, err)
	}
	s.stats.durableSyncs.Add(1)
	if err := f.Sync(); err != nil {
		return content{}, fmt.Errorf("sync %q: %w", rel, err)
	}
	info, err := f.Stat()
	if err != nil {
		return content{}, fmt.Errorf("stat %q: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return content{}, fmt.Errorf("close %q: %w", rel, err)
	}
	if err := s.replace(tmp, rel); err != nil {
		return content{}, err
	}
	c := content{size: info.Size(), mtimeNs: info.ModTime().UnixNano(), sum: sum}
	s.index.put(rel, c)
	return c, nil
}

// replace renames the finished temporary entry tmp over rel, without
// following a symlink at rel. A directory at rel (a type change) is
// removed first with everything under it. The parent directory is synced
// afterwards.
func (s *Server) replace(tmp, rel string) error {
	if err := s.rename(s.root, tmp, rel, rel); err != nil {
		return err
	}
	return s.syncDir(engine.ParentPath(rel))
}

// renameIn renames the finished temporary file tmp of d over name, as
// rename does, through file, the same directory for the *at calls, when
// it is not nil: one renameat, and the walk of rename only when a
// directory is in the way.
func (s *Server) renameIn(d *os.Root, file *dirFile, tmp, name, rel string) error {
	if file == nil {
		return s.rename(d, tmp, name, rel)
	}
	err := file.renameOver(tmp, name)
	switch {
	case err == nil:
		s.index.remove(rel)
		s.dropPartial(rel)
		return nil
	case isDirInTheWay(err):
		return s.rename(d, tmp, name, rel)
	default:
		return fmt.Errorf("rename into %q: %w", rel, err)
	}
}

// rename renames the finished temporary entry tmp of d over name, the
// entry of d whose path from the root is rel, as replace does, but leaves
// syncing the directory to the caller.
func (s *Server) rename(d *os.Root, tmp, name, rel string) error {
	info, err := d.Lstat(name)
	switch {
	case err == nil && info.IsDir():
		s.dirEpoch.Add(1) // drop the directory handles streams hold
		if err := d.RemoveAll(name); err != nil {
			return fmt.Errorf("remove directory %q: %w", rel, err)
		}
		s.index.removeTree(rel)
		s.stats.entriesDeleted.Add(1)
	case err == nil:
		s.index.remove(rel)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("lstat %q: %w", rel, err)
	}
	if err := d.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename into %q: %w", rel, err)
	}
	s.dropPartial(rel)
	return nil
}

// syncDir makes the entries of the directory dir ("" for the root)
// durable.
func (s *Server) syncDir(dir string) error {
	name := dir
	if name == "" {
		name = "."
	}
	s.stats.durableSyncs.Add(1)
	return syncIn(s.root, name, dir)
}

// syncRoot makes the entries of the directory d, whose path from the root
// is dir, durable.
func syncRoot(d *os.Root, dir string) error {
	return syncIn(d, ".", dir)
}

// syncIn fsyncs the directory name of d; dir names it in errors.
func syncIn(d *os.Root, name, dir string) error {
	f, err := d.Open(name)
	if err != nil {
		return fmt.Errorf("open directory %q: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}

// fileWriter returns the writer that file content for w goes through: w
// itself, or w behind the test hook [Options.WriteFault].
func (s *Server) fileWriter(w io.Writer) io.Writer {
	if s.writeFault == nil {
		return w
	}
	return &faultWriter{w: w, fault: s.writeFault}
}

// faultWriter fails the writes its fault function refuses.
type faultWriter struct {
	w     io.Writer
	fault func(n int) error
}

// Write writes p unless fault refuses it.
func (w *faultWriter) Write(p []byte) (int, error) {
	if err := w.fault(len(p)); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
