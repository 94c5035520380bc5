//go:build !linux

package server

import "errors"

// renameNew is not available here: every file takes the group commit's
// path, synced before it is renamed.
func (*dirFile) renameNew(string, string) error { return errors.ErrUnsupported }
