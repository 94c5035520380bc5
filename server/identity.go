package server

import (
	"log/slog"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// rootIdentity is where the root lies on this machine, as Status reports
// it: a client on the same machine compares it with its own directory,
// and refuses or leaves out the overlap, since mirroring a tree into
// itself nests it deeper at every pass.
type rootIdentity struct {
	machine   string
	root      *dirsyncv1.FileID
	ancestors []*dirsyncv1.FileID
}

// newRootIdentity describes the root at abs. What it cannot find out it
// leaves empty, and clients then check nothing.
func newRootIdentity(abs string, log *slog.Logger) rootIdentity {
	self, ancestors, ok, err := engine.DirIDs(abs)
	if err != nil || !ok {
		if err != nil {
			log.Debug("cannot identify the root's place for overlap checks", "err", err)
		}
		return rootIdentity{}
	}
	id := rootIdentity{machine: engine.MachineID(), root: fileIDToProto(self)}
	for _, a := range ancestors {
		id.ancestors = append(id.ancestors, fileIDToProto(a))
	}
	return id
}

// fileIDToProto converts a FileID to its message.
func fileIDToProto(id engine.FileID) *dirsyncv1.FileID {
	return &dirsyncv1.FileID{Device: id.Device, Inode: id.Inode}
}
