package server

import "github.com/dirsync/dirsync/engine"

// modeSetid holds the setuid, setgid and sticky bits in Unix numbering.
const modeSetid = 0o7000

// keptMode returns the mode bits the server gives the entry e: e.Mode, or
// e.Mode without setuid, setgid and sticky unless Options.AllowSetid is
// set. A server running as root owns what it writes, so a tenant's setuid
// file would otherwise become a root-owned setuid executable. Each drop
// is counted and logged at debug; the manifest tells clients, who then
// compare modes without those bits (GetManifestResponse.drops_setid).
func (s *Server) keptMode(e engine.Entry) uint32 {
	if s.allowSetid || e.Mode&modeSetid == 0 || e.Type == engine.TypeSymlink {
		return e.Mode
	}
	s.stats.setidDropped.Add(1)
	s.log.Debug("set-id bits dropped", "path", e.Path, "mode", e.Mode)
	return e.Mode &^ modeSetid
}
