package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Constructors for the diff tests' entries.
func tDir(p string, mtime int64) Entry {
	return Entry{Path: p, Type: TypeDir, Mode: 0o755, MtimeNs: mtime}
}

func tFile(p string, size, mtime int64) Entry {
	return Entry{Path: p, Type: TypeFile, Mode: 0o644, Size: size, MtimeNs: mtime}
}

func tLink(p, target string) Entry {
	return Entry{Path: p, Type: TypeSymlink, Mode: 0o777, LinkTarget: target}
}

func tFifo(p string, mtime int64) Entry {
	return Entry{Path: p, Type: TypeFIFO, Mode: 0o644, MtimeNs: mtime}
}

func tDev(p string, major, minor uint32) Entry {
	return Entry{Path: p, Type: TypeCharDev, Mode: 0o666, DevMajor: major, DevMinor: minor}
}

func tMode(e Entry, mode uint32) Entry {
	e.Mode = mode
	return e
}

func tMtime(e Entry, mtime int64) Entry {
	e.MtimeNs = mtime
	return e
}

// planPaths is a Plan reduced to its paths, in order.
type planPaths struct {
	Delete, Mkdir, Send, Symlink, Special, SetMeta []string
	// Based lists the Send paths that have a Remote base.
	Based []string
}

func pathsOf(p Plan) planPaths {
	var pp planPaths
	for _, e := range p.Delete {
		pp.Delete = append(pp.Delete, e.Path)
	}
	for _, e := range p.Mkdir {
		pp.Mkdir = append(pp.Mkdir, e.Path)
	}
	for _, fc := range p.Send {
		pp.Send = append(pp.Send, fc.Local.Path)
		if fc.Remote != nil {
			pp.Based = append(pp.Based, fc.Local.Path)
		}
	}
	for _, e := range p.Symlink {
		pp.Symlink = append(pp.Symlink, e.Path)
	}
	for _, e := range p.Special {
		pp.Special = append(pp.Special, e.Path)
	}
	for _, e := range p.SetMeta {
		pp.SetMeta = append(pp.SetMeta, e.Path)
	}
	return pp
}

func (pp planPaths) String() string {
	return fmt.Sprintf("{Delete %q, Mkdir %q, Send %q (based %q), Symlink %q, Special %q, SetMeta %q}",
		pp.Delete, pp.Mkdir, pp.Send, pp.Based, pp.Symlink, pp.Special, pp.SetMeta)
}

func (pp planPaths) equal(o planPaths) bool {
	return slices.Equal(pp.Delete, o.Delete) && slices.Equal(pp.Mkdir, o.Mkdir) &&
		slices.Equal(pp.Send, o.Send) && slices.Equal(pp.Based, o.Based) &&
		slices.Equal(pp.Symlink, o.Symlink) && slices.Equal(pp.Special, o.Special) &&
		slices.Equal(pp.SetMeta, o.SetMeta)
}

// s is shorthand for a list of paths.
func s(p ...string) []string { return p }

func TestDiff(t *testing.T) {
	tree := Manifest{
		tDir("a", 1),
		tDir("a/b", 2),
		tFile("a/b/f", 3, 4),
		tLink("a/l", "b/f"),
		tFile("a-b", 5, 6),
		tFile("c", 0, 7),
	}
	tests := []struct {
		name          string
		local, remote Manifest
		want          planPaths
	}{
		{"both empty", nil, nil, planPaths{}},
		{"identical", tree, tree, planPaths{}},
		{"new tree into empty", tree, nil, planPaths{
			Mkdir:   s("a", "a/b"),
			Send:    s("a/b/f", "a-b", "c"),
			Symlink: s("a/l"),
			SetMeta: s("a/b", "a"),
		}},
		{"delete everything", nil, tree, planPaths{Delete: s("a", "a-b", "c")}},
		{"file size changed",
			Manifest{tDir("a", 1), tFile("a/f", 2, 3)},
			Manifest{tDir("a", 1), tFile("a/f", 9, 3)},
			planPaths{Send: s("a/f"), Based: s("a/f"), SetMeta: s("a")}},
		{"file mtime changed",
			Manifest{tDir("a", 1), tFile("a/f", 2, 3)},
			Manifest{tDir("a", 1), tFile("a/f", 2, 9)},
			planPaths{Send: s("a/f"), Based: s("a/f"), SetMeta: s("a")}},
		{"file changed at root",
			Manifest{tFile("f", 2, 3)},
			Manifest{tFile("f", 2, 9)},
			planPaths{Send: s("f"), Based: s("f")}},
		{"same size and mtime, other hash",
			Manifest{Entry{Path: "f", Type: TypeFile, Size: 1, MtimeNs: 1, SHA256: [32]byte{1}, HasSHA256: true}},
			Manifest{Entry{Path: "f", Type: TypeFile, Size: 1, MtimeNs: 1, SHA256: [32]byte{2}, HasSHA256: true}},
			planPaths{}},
		{"chmod file only",
			Manifest{tDir("a", 1), tMode(tFile("a/f", 2, 3), 0o600)},
			Manifest{tDir("a", 1), tFile("a/f", 2, 3)},
			planPaths{SetMeta: s("a/f")}},
		{"chmod and content",
			Manifest{tMode(tFile("f", 2, 3), 0o600)},
			Manifest{tFile("f", 1, 3)},
			planPaths{Send: s("f"), Based: s("f")}},
		{"chmod dir",
			Manifest{tMode(tDir("a", 1), 0o700)},
			Manifest{tDir("a", 1)},
			planPaths{SetMeta: s("a")}},
		{"dir mtime",
			Manifest{tDir("a", 1), tDir("a/b", 5)},
			Manifest{tDir("a", 1), tDir("a/b", 2)},
			planPaths{SetMeta: s("a/b")}},
		{"setuid bit",
			Manifest{tMode(tFile("f", 1, 1), 0o4755)},
			Manifest{tMode(tFile("f", 1, 1), 0o755)},
			planPaths{SetMeta: s("f")}},
		{"symlink mode ignored",
			Manifest{tMode(tLink("l", "t"), 0o755)},
			Manifest{tLink("l", "t")},
			planPaths{}},
		{"symlink mtime",
			Manifest{tDir("d", 1), tMtime(tLink("d/l", "t"), 5)},
			Manifest{tDir("d", 1), tLink("d/l", "t")},
			planPaths{SetMeta: s("d/l")}},
		{"new fifo",
			Manifest{tDir("d", 1), tFifo("d/p", 3)},
			Manifest{tDir("d", 1)},
			planPaths{Special: s("d/p"), SetMeta: s("d")}},
		{"fifo same",
			Manifest{tFifo("p", 3)},
			Manifest{tFifo("p", 3)},
			planPaths{}},
		{"fifo mode and mtime",
			Manifest{tMode(tFifo("p", 3), 0o600), tFifo("q", 4)},
			Manifest{tFifo("p", 3), tFifo("q", 3)},
			planPaths{SetMeta: s("p", "q")}},
		{"new device",
			Manifest{tDev("null", 1, 3)},
			nil,
			planPaths{Special: s("null")}},
		{"device numbers changed",
			Manifest{tDir("d", 1), tDev("d/x", 1, 5)},
			Manifest{tDir("d", 1), tDev("d/x", 1, 3)},
			planPaths{Special: s("d/x"), SetMeta: s("d")}},
		{"device mode",
			Manifest{tMode(tDev("x", 1, 3), 0o600)},
			Manifest{tDev("x", 1, 3)},
			planPaths{SetMeta: s("x")}},
		{"char to block device",
			Manifest{Entry{Path: "x", Type: TypeBlockDev, Mode: 0o644, DevMajor: 1, DevMinor: 3}},
			Manifest{tDev("x", 1, 3)},
			planPaths{Delete: s("x"), Special: s("x")}},
		{"file to fifo",
			Manifest{tFifo("p", 3)},
			Manifest{tFile("p", 1, 3)},
			planPaths{Delete: s("p"), Special: s("p")}},
		{"symlink retarget",
			Manifest{tDir("d", 1), tLink("d/l", "new")},
			Manifest{tDir("d", 1), tLink("d/l", "old")},
			planPaths{Symlink: s("d/l"), SetMeta: s("d")}},
		{"file to dir",
			Manifest{tDir("a", 1), tDir("a/x", 2), tFile("a/x/y", 1, 3)},
			Manifest{tDir("a", 1), tFile("a/x", 1, 3)},
			planPaths{Delete: s("a/x"), Mkdir: s("a/x"), Send: s("a/x/y"), SetMeta: s("a/x", "a")}},
		{"dir to file",
			Manifest{tFile("x", 1, 1)},
			Manifest{tDir("x", 1), tDir("x/y", 1), tFile("x/y/z", 1, 1), tFile("x/z", 1, 1)},
			planPaths{Delete: s("x"), Send: s("x")}},
		{"dir to file with a same-named child",
			Manifest{tDir("p", 1), tFile("p/x", 1, 1)},
			Manifest{tDir("p", 1), tDir("p/x", 1), tFile("p/x/x", 1, 1)},
			planPaths{Delete: s("p/x"), Send: s("p/x"), SetMeta: s("p")}},
		{"file to symlink",
			Manifest{tLink("f", "t")},
			Manifest{tFile("f", 1, 1)},
			planPaths{Delete: s("f"), Symlink: s("f")}},
		{"symlink to file",
			Manifest{tFile("f", 1, 1)},
			Manifest{tLink("f", "t")},
			planPaths{Delete: s("f"), Send: s("f")}},
		{"symlink to dir",
			Manifest{tDir("s", 1), tFile("s/f", 1, 1)},
			Manifest{tLink("s", "elsewhere")},
			planPaths{Delete: s("s"), Mkdir: s("s"), Send: s("s/f"), SetMeta: s("s")}},
		{"dir to symlink",
			Manifest{tLink("s", "elsewhere")},
			Manifest{tDir("s", 1), tFile("s/f", 1, 1)},
			planPaths{Delete: s("s"), Symlink: s("s")}},
		{"deep tree deleted, topmost only",
			Manifest{tDir("a", 1)},
			Manifest{tDir("a", 1), tDir("a/b", 1), tDir("a/b/c", 1), tFile("a/b/c/d", 1, 1), tFile("a/b/e", 1, 1), tLink("a/l", "b")},
			planPaths{Delete: s("a/b", "a/l"), SetMeta: s("a")}},
		{"deletes deepest first",
			Manifest{tDir("a", 1), tDir("a/b", 1), tDir("z", 1)},
			Manifest{tDir("a", 1), tDir("a/b", 1), tFile("a/b/c", 1, 1), tFile("a/d", 1, 1), tFile("y", 1, 1), tDir("z", 1), tFile("z/q", 1, 1)},
			planPaths{Delete: s("a/b/c", "a/d", "z/q", "y"), SetMeta: s("a/b", "a", "z")}},
		{"mkdir parents first, setmeta deepest first",
			Manifest{tDir("a", 1), tDir("a/b", 1), tDir("a/b/c", 1), tDir("a/d", 1), tDir("e", 1)},
			Manifest{tDir("a", 1)},
			planPaths{Mkdir: s("a/b", "a/b/c", "a/d", "e"), SetMeta: s("a/b/c", "a/b", "a/d", "a", "e")}},
		{"created dir gets meta even if empty",
			Manifest{tDir("e", 1)},
			nil,
			planPaths{Mkdir: s("e"), SetMeta: s("e")}},
		{"slash sorts first",
			Manifest{tDir("a", 1), tFile("a/x", 1, 1), tFile("a-b", 2, 2), tFile("a.b", 1, 1)},
			Manifest{tDir("a", 1), tFile("a/x", 1, 1), tFile("a-b", 1, 1), tFile("a0", 1, 1)},
			planPaths{Delete: s("a0"), Send: s("a-b", "a.b"), Based: s("a-b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []Manifest{tt.local, tt.remote} {
				if err := m.Validate(); err != nil {
					t.Fatalf("bad test manifest: %v", err)
				}
			}
			plan := Diff(tt.local, tt.remote)
			if got := pathsOf(plan); !got.equal(tt.want) {
				t.Errorf("Diff() = %v\nwant %v", got, tt.want)
			}
			if plan.Empty() != tt.want.equal(planPaths{}) {
				t.Errorf("Diff().Empty() = %v, want %v", plan.Empty(), !plan.Empty())
			}
			if err := checkPlan(tt.local, tt.remote, plan); err != nil {
				t.Errorf("applying Diff(): %v", err)
			}
		})
	}
}

func TestDiffRemoteBase(t *testing.T) {
	remote := Manifest{Entry{Path: "f", Type: TypeFile, Mode: 0o600, Size: 7, MtimeNs: 1, SHA256: [32]byte{9}, HasSHA256: true}}
	local := Manifest{tFile("f", 8, 2)}
	plan := Diff(local, remote)
	if len(plan.Send) != 1 || plan.Send[0].Remote == nil || *plan.Send[0].Remote != remote[0] || plan.Send[0].Local != local[0] {
		t.Fatalf("Diff().Send = %+v, want local %+v with remote %+v", plan.Send, local[0], remote[0])
	}
	plan.Send[0].Remote.Size = 0
	if remote[0].Size != 7 {
		t.Errorf("changing the plan's Remote changed the remote manifest")
	}
}

func TestPlanString(t *testing.T) {
	p := Plan{
		Delete:  make([]Entry, 3),
		Mkdir:   make([]Entry, 2),
		Send:    make([]FileChange, 10),
		Symlink: make([]Entry, 1),
		SetMeta: make([]Entry, 4),
	}
	if got, want := p.String(), "3 to delete, 2 dirs, 10 files, 1 symlinks, 4 metadata"; got != want {
		t.Errorf("Plan.String() = %q, want %q", got, want)
	}
	p.Special = make([]Entry, 2)
	if got, want := p.String(), "3 to delete, 2 dirs, 10 files, 1 symlinks, 2 special, 4 metadata"; got != want {
		t.Errorf("Plan.String() = %q, want %q", got, want)
	}
	if (Plan{Special: make([]Entry, 1)}).Empty() {
		t.Errorf("Empty() = true for a plan with a special file")
	}
	if p.Empty() || !(Plan{}).Empty() {
		t.Errorf("Empty() = %v for a full plan, %v for a zero one", p.Empty(), Plan{}.Empty())
	}
}

// staleMtime marks, in the simulator, a directory mtime that writing a
// child has changed, or a new directory's mtime before SetMeta.
const staleMtime = math.MinInt64

// applyPlan applies plan to remote in memory and returns the resulting
// tree. It checks the preconditions of every step, as a real receiver would
// meet them, and that no step is needless. Writing into a directory makes
// its mtime stale; a sent file takes the local entry as it is.
func applyPlan(remote Manifest, plan Plan) (map[string]Entry, error) {
	state := remote.Index()
	// touch marks the parent of p as written, and checks it is a
	// directory.
	touch := func(p string) error {
		parent := ParentPath(p)
		if parent == "" {
			return nil
		}
		e, ok := state[parent]
		if !ok || e.Type != TypeDir {
			return fmt.Errorf("parent of %q is %+v, want a directory", p, e)
		}
		e.MtimeNs = staleMtime
		state[parent] = e
		return nil
	}

	deleted := slices.Clone(plan.Delete)
	slices.SortFunc(deleted, compareEntries)
	for i := 1; i < len(deleted); i++ {
		if IsWithin(deleted[i].Path, deleted[i-1].Path) {
			return nil, fmt.Errorf("delete %q is below delete %q", deleted[i].Path, deleted[i-1].Path)
		}
	}
	for i, e := range plan.Delete {
		if i > 0 && depth(e.Path) > depth(plan.Delete[i-1].Path) {
			return nil, fmt.Errorf("delete %q after shallower %q", e.Path, plan.Delete[i-1].Path)
		}
		if cur, ok := state[e.Path]; !ok || cur != e {
			return nil, fmt.Errorf("delete %+v: remote has %+v", e, cur)
		}
		for p := range state {
			if IsWithin(p, e.Path) {
				delete(state, p)
			}
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
	}
	for _, e := range plan.Mkdir {
		if cur, ok := state[e.Path]; ok || e.Type != TypeDir {
			return nil, fmt.Errorf("mkdir %+v: remote has %+v", e, cur)
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
		state[e.Path] = Entry{Path: e.Path, Type: TypeDir, Mode: e.Mode, MtimeNs: staleMtime}
	}
	broken := map[string]bool{}
	for _, fc := range plan.Send {
		e := fc.Local
		cur, ok := state[e.Path]
		switch {
		case e.Type != TypeFile:
			return nil, fmt.Errorf("send %+v: not a file", e)
		case ok && (cur.Type != TypeFile || fc.Remote == nil || *fc.Remote != cur):
			return nil, fmt.Errorf("send %+v: remote has %+v, base %+v", e, cur, fc.Remote)
		case !ok && fc.Remote != nil:
			return nil, fmt.Errorf("send %+v: base %+v, but no remote file", e, *fc.Remote)
		case ok && cur.Size == e.Size && cur.MtimeNs == e.MtimeNs && cur.HardlinkTarget == e.HardlinkTarget:
			return nil, fmt.Errorf("send %+v: remote file has the same size, mtime and links", e)
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
		// Written anew, the file is no longer the inode its remote
		// links share: they are broken unless written again.
		for p, other := range state {
			if other.HardlinkTarget == e.Path {
				broken[p] = true
			}
		}
		delete(broken, e.Path)
		state[e.Path] = e
	}
	for _, e := range plan.Symlink {
		cur, ok := state[e.Path]
		switch {
		case e.Type != TypeSymlink:
			return nil, fmt.Errorf("symlink %+v: not a symlink", e)
		case ok && cur.Type != TypeSymlink:
			return nil, fmt.Errorf("symlink %+v: remote has %+v", e, cur)
		case ok && cur.LinkTarget == e.LinkTarget:
			return nil, fmt.Errorf("symlink %+v: remote has the same target", e)
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
		state[e.Path] = e
	}
	for _, e := range plan.Link {
		target, ok := state[e.HardlinkTarget]
		switch {
		case e.Type != TypeFile || e.HardlinkTarget == "":
			return nil, fmt.Errorf("link %+v: not a file with a target", e)
		case !ok || target.Type != TypeFile || target.HardlinkTarget != "":
			return nil, fmt.Errorf("link %+v: target is %+v", e, target)
		}
		if cur, ok := state[e.Path]; ok && cur.Type == TypeDir {
			return nil, fmt.Errorf("link %+v: remote has a directory", e)
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
		delete(broken, e.Path)
		state[e.Path] = e
	}
	for p := range broken {
		if cur, ok := state[p]; ok && cur.HardlinkTarget != "" {
			cur.HardlinkTarget = "(broken link)"
			state[p] = cur
		}
	}
	for _, e := range plan.Special {
		cur, ok := state[e.Path]
		switch {
		case !e.Type.Special():
			return nil, fmt.Errorf("special %+v: not a special file", e)
		case ok && (cur.Type != e.Type || cur.DevMajor == e.DevMajor && cur.DevMinor == e.DevMinor):
			return nil, fmt.Errorf("special %+v: remote has %+v", e, cur)
		}
		if err := touch(e.Path); err != nil {
			return nil, err
		}
		state[e.Path] = e
	}
	metaDone := map[string]bool{}
	for _, e := range plan.SetMeta {
		cur, ok := state[e.Path]
		switch {
		case !ok || cur.Type != e.Type:
			return nil, fmt.Errorf("setmeta %+v: remote has %+v", e, cur)
		case e.Type == TypeSymlink && cur.MtimeNs == e.MtimeNs:
			return nil, fmt.Errorf("setmeta %+v: symlink mtime unchanged", e)
		case cur.Mode == e.Mode && cur.MtimeNs == e.MtimeNs:
			return nil, fmt.Errorf("setmeta %+v: nothing to change", e)
		}
		for a := ParentPath(e.Path); a != ""; a = ParentPath(a) {
			if metaDone[a] {
				return nil, fmt.Errorf("setmeta %q after its ancestor %q", e.Path, a)
			}
		}
		metaDone[e.Path] = true
		if e.Type != TypeSymlink {
			cur.Mode = e.Mode
		}
		cur.MtimeNs = e.MtimeNs
		state[e.Path] = cur
	}
	return state, nil
}

// checkPlan applies plan to remote with applyPlan and checks that the
// result matches local: the same paths and types, the same targets, and
// for files and directories the same mode and mtime (and size for files).
func checkPlan(local, remote Manifest, plan Plan) error {
	state, err := applyPlan(remote, plan)
	if err != nil {
		return err
	}
	if len(state) != len(local) {
		return fmt.Errorf("result has %d entries, want %d", len(state), len(local))
	}
	for _, want := range local {
		got, ok := state[want.Path]
		if !ok {
			return fmt.Errorf("result lacks %q", want.Path)
		}
		if got.Type == TypeSymlink && want.Type == TypeSymlink {
			got.Mode, want.Mode = 0, 0
		}
		got.SHA256, got.HasSHA256, want.SHA256, want.HasSHA256 = [32]byte{}, false, [32]byte{}, false
		if got != want {
			return fmt.Errorf("result has %+v, want %+v", got, want)
		}
	}
	return nil
}

// randomTree returns a random valid manifest over a few names, so that two
// such trees overlap a lot.
func randomTree(rng *rand.Rand) Manifest {
	names := []string{"a", "b", "a-b", "a.b"}
	var m Manifest
	var fill func(dir string, level int)
	fill = func(dir string, level int) {
		for _, name := range names {
			if rng.IntN(3) == 0 {
				continue
			}
			p := name
			if dir != "" {
				p = dir + "/" + name
			}
			e := Entry{
				Path:    p,
				Mode:    []uint32{0o644, 0o755, 0o4755}[rng.IntN(3)],
				MtimeNs: int64(rng.IntN(2)),
			}
			switch rng.IntN(4) {
			case 0:
				e.Type = TypeFile
				e.Size = int64(rng.IntN(2))
			case 1:
				e.Type = TypeSymlink
				e.LinkTarget = []string{"x", "y"}[rng.IntN(2)]
			case 2:
				e.Type = TypeFIFO
			default:
				e.Type = TypeDir
			}
			m = append(m, e)
			if e.Type == TypeDir && level < 3 {
				fill(p, level+1)
			}
		}
	}
	fill("", 0)
	m.Sort()
	// Some files are hard links to a file before them.
	var primaries []string
	for i := range m {
		if m[i].Type != TypeFile {
			continue
		}
		if len(primaries) > 0 && rng.IntN(3) == 0 {
			m[i].HardlinkTarget = primaries[rng.IntN(len(primaries))]
		} else {
			primaries = append(primaries, m[i].Path)
		}
	}
	return m
}

// TestDiffApply checks on random trees that applying Diff's plan to the
// remote tree yields the local one, and that the plan is then empty.
func TestDiffApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 5000 {
		local, remote := randomTree(rng), randomTree(rng)
		for _, m := range []Manifest{local, remote} {
			if err := m.Validate(); err != nil {
				t.Fatalf("randomTree() = %v: %v", treePaths(m), err)
			}
		}
		plan := Diff(local, remote)
		if err := checkPlan(local, remote, plan); err != nil {
			t.Fatalf("case %d: Diff(%v, %v) = %v: %v", i, local, remote, pathsOf(plan), err)
		}
		if p := Diff(local, local); !p.Empty() {
			t.Fatalf("case %d: Diff(m, m) = %v, want empty", i, pathsOf(p))
		}
	}
}
