//go:build !linux

package server

import (
	"errors"
	"os"
	"time"
)

// setOpenMtime is not available here: callers set the mtime by name.
func setOpenMtime(*os.File, time.Time) error { return errors.ErrUnsupported }
