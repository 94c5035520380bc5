//go:build !linux

package server

import "errors"

// mkfifo is not available here: named pipes are refused.
func (*dirFile) mkfifo(string, uint32) error { return errors.ErrUnsupported }

// mknod is not available here: devices are refused.
func (*dirFile) mknod(string, bool, uint32, uint32, uint32) error { return errors.ErrUnsupported }
