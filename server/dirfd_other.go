//go:build !unix

package server

import (
	"errors"
	"os"
	"time"
)

// dirFile is unavailable here: files are made through [os.Root].
type dirFile struct{}

// openDirFile fails here, and callers use their [os.Root] instead.
func openDirFile(*os.Root) (*dirFile, error) {
	return nil, errors.New("directory handles for *at calls are not available on this system")
}

func (*dirFile) close() error                                     { return nil }
func (*dirFile) createExclusive(string, uint32) (*os.File, error) { return nil, errors.ErrUnsupported }
func (*dirFile) setMtime(string, time.Time) error                 { return errors.ErrUnsupported }
func (*dirFile) renameOver(string, string) error                  { return errors.ErrUnsupported }
func isDirInTheWay(error) bool                                    { return false }

// createPerm makes every temporary file 0600 here; see the Unix version.
func createPerm(uint32) (perm uint32, final bool) { return 0o600, false }
