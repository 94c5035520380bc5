package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// pass is the state of one sync pass. Its methods may be called from the
// upload goroutines; mu guards sum, failed and bar.
type pass struct {
	c      *Client
	mu     sync.Mutex
	sum    Summary
	failed map[string]string // path to reason
	bar    *progress
	// remoteSizes counts the regular files on the server by size, in a
	// pass over the whole tree; nil in a scoped pass, which does not know
	// them all. See [pass.needsHash].
	remoteSizes map[int64]int
	hooks       passHooks
	// scanned is the manifest the pass's scan made.
	scanned engine.Manifest
}

// passHooks are what a caller may add to a pass; the zero value adds
// nothing.
type passHooks struct {
	// beforeList, if set, is called with the relative path of each
	// directory the pass's scan of the whole tree lists, just before it
	// lists it, possibly from several goroutines at once (see
	// engine.ScanOptions.BeforeList).
	beforeList func(rel string)
	// filesDone, if set, is called once the files of a plan that changes
	// something are all answered, before the directories get their
	// metadata, with the manifest the pass's scan made: from then on the
	// pass reads nothing more of the local tree.
	filesDone func(scanned engine.Manifest)
}

// runPass runs one sync pass over scopes, reduced paths relative to the
// root, or over the whole tree when scopes is nil. With showProgress, a
// progress bar goes to Options.Progress. It returns an error, wrapping
// ErrUnavailable when the server could not be reached, only when the pass
// could not go on; failures of single items are in the Summary.
func (c *Client) runPass(ctx context.Context, scopes []string, showProgress bool) (Summary, error) {
	return c.runPassWith(ctx, scopes, showProgress, passHooks{})
}

// runPassWith is runPass with hooks.
func (c *Client) runPassWith(ctx context.Context, scopes []string, showProgress bool, hooks passHooks) (Summary, error) {
	start := time.Now()
	seen := c.sawAt
	if seen.IsZero() {
		seen = start
	}
	c.sawAt = time.Time{}
	c.observedAt.Store(seen.UnixNano())
	wire0 := c.wire.Load()
	p := &pass{c: c, failed: make(map[string]string), hooks: hooks}
	p.sum.Full = scopes == nil
	err := p.run(ctx, scopes, showProgress)
	p.bar.finish()
	p.sum.WireBytes = c.wire.Load() - wire0
	p.sum.Duration = time.Since(start)
	for path, reason := range p.failed {
		p.sum.FailedPaths = append(p.sum.FailedPaths, path)
		p.sum.Omitted = append(p.sum.Omitted, Omission{Path: path, Reason: reason})
	}
	slices.SortFunc(p.sum.FailedPaths, engine.ComparePaths)
	p.sum.Failed = len(p.sum.FailedPaths)
	slices.SortFunc(p.sum.Omitted, func(a, b Omission) int { return engine.ComparePaths(a.Path, b.Path) })
	if p.sum.Full {
		scopes = nil
	}
	c.reportHold(p.sum.Hold, scopes)
	c.opts.Metrics.observePass(c, p.sum, err)
	if err != nil {
		return p.sum, c.classify(err)
	}
	if !p.sum.DryRun {
		c.log.Info("pass done", p.sum.logAttrs()...)
	}
	if p.sum.SetidDropped > 0 && p.sum.Full {
		c.log.Warn("the server does not keep setuid, setgid and sticky bits; entries that have them are mirrored without them",
			"setid_dropped", p.sum.SetidDropped)
	}
	return p.sum, nil
}

// classify wraps ErrAuth around an error that means the server refused the
// client's credentials (or TLS failed on a certificate), and ErrUnavailable
// around one that means the server could not be reached.
func (c *Client) classify(err error) error {
	if authFailed(err) && !errors.Is(err, ErrAuth) {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if transient(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// run scans, diffs and applies.
func (p *pass) run(ctx context.Context, scopes []string, showProgress bool) error {
	c := p.c
	if err := c.checkOverlap(ctx); err != nil {
		return err
	}
	local, scanErrs, remote, err := c.scanAndFetch(ctx, scopes, p.hooks.beforeList)
	if err != nil {
		return err
	}
	if scopes != nil && engine.HasHardLinks(local) {
		// A file of a link set changed: its other links, wherever they
		// are, change with it, and only the whole tree lists them.
		c.log.Debug("a hard-linked file changed; running a full pass")
		p.sum.Full = true
		return p.run(ctx, nil, showProgress)
	}
	p.scanned = local
	var (
		protect []string
		skipped []Omission
	)
	for _, se := range scanErrs {
		if errors.Is(se.Err, engine.ErrUnsupportedType) || errors.Is(se.Err, engine.ErrInvalidPath) {
			skipped = append(skipped, Omission{Path: se.Path, Reason: se.Err.Error(), Skipped: true})
			continue
		}
		protect = append(protect, se.Path)
		p.fail(se.Path, "scan", se.Err)
	}
	// A pass run again over the whole tree (see below) scans again.
	p.sum.Omitted = c.noteSkipped(skipped, scopes)
	remote = c.rules.Load().filter(remote)
	plan := c.planAgainst(local, remote)
	if c.dropsSetid.Load() {
		p.sum.SetidDropped = countSetid(local)
	}
	plan.Delete = deletable(plan.Delete, protect)
	if len(plan.Delete) > 0 {
		total, empties := len(remote), len(local) == 0
		if scopes != nil {
			total, empties = -1, c.rootEmpty()
		}
		lost, now := countLost(plan, remote), time.Now()
		hold, needTotal := c.opts.checkDeletes(countDeleted(plan.Delete, remote), lost, c.deleted.recent(now), total, empties)
		if needTotal {
			// Only the whole tree tells whether these deletions empty
			// it or remove most of it.
			c.log.Debug("deletions need the whole tree to be checked; running a full pass", "deletions", len(plan.Delete))
			p.sum.Full = true
			return p.run(ctx, nil, showProgress)
		}
		if hold != nil {
			for _, d := range plan.Delete {
				hold.Paths = append(hold.Paths, d.Path)
			}
			slices.SortFunc(hold.Paths, engine.ComparePaths)
			p.sum.Hold = hold
			plan = withoutDeletes(plan)
		} else if !c.opts.DryRun {
			c.deleted.add(now, lost)
		}
	}
	if c.opts.DryRun {
		p.sum.DryRun = true
		p.sum.Plan = plan
		return nil
	}
	if scopes == nil {
		c.hashes.retain(local)
		p.remoteSizes = make(map[int64]int)
		for _, e := range remote {
			if e.Type == engine.TypeFile {
				p.remoteSizes[e.Size]++
			}
		}
	}
	var sendBytes int64
	for _, e := range local {
		if e.Type == engine.TypeFile {
			p.sum.Files++
			p.sum.TotalBytes += e.Size
		}
	}
	for _, fc := range plan.Send {
		sendBytes += fc.Local.Size
	}
	p.sum.Unchanged = p.sum.Files - len(plan.Send) - len(plan.Link)
	if showProgress {
		p.bar = newProgress(c.opts.Progress, len(plan.Send), sendBytes)
	}
	if err := p.execute(ctx, plan, c.scopeParents(scopes)); err != nil {
		return err
	}
	if p.sum.Hold != nil {
		// The server's tree is not a mirror while deletions are held:
		// its root keeps its own times until they are allowed.
		return nil
	}
	return p.syncRoot(ctx, plan)
}

// scanAndFetch scans the local scopes (nil for the whole tree) and fetches
// the server's manifest of them at the same time: the two take about as
// long on a tree of 20,000 files, and neither needs the other. A scan of
// the whole tree calls beforeList, if set, before it lists each directory.
func (c *Client) scanAndFetch(ctx context.Context, scopes []string, beforeList func(rel string)) (local engine.Manifest, scanErrs []engine.ScanError, remote engine.Manifest, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var fetchErr error
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		remote, fetchErr = c.fetchManifest(ctx, scopes)
	}()
	local, scanErrs, err = c.scanLocal(scopes, beforeList)
	if err != nil {
		cancel()
		<-fetched
		return nil, nil, nil, err
	}
	<-fetched
	if fetchErr != nil {
		return nil, nil, nil, fetchErr
	}
	return local, scanErrs, remote, nil
}

// scanLocal scans the whole tree (scopes nil), calling beforeList, if set,
// before it lists each directory, or the given scopes.
func (c *Client) scanLocal(scopes []string, beforeList func(rel string)) (engine.Manifest, []engine.ScanError, error) {
	opts := c.scanOptions()
	if scopes == nil {
		opts.BeforeList = beforeList
		m, errs, err := engine.Scan(c.opts.Dir, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("scan: %w", err)
		}
		return m, errs, nil
	}
	var (
		all  engine.Manifest
		errs []engine.ScanError
	)
	for _, s := range scopes {
		m, se, err := engine.ScanPath(c.opts.Dir, s, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("scan: %w", err)
		}
		all = append(all, m...)
		errs = append(errs, se...)
	}
	all.Sort()
	engine.GroupHardLinks(all)
	return all, errs, nil
}

// deletable drops from dels the entries at or below a path the scan could
// not read: the local side may well still have them.
func deletable(dels []engine.Entry, protect []string) []engine.Entry {
	if len(protect) == 0 {
		return dels
	}
	return slices.DeleteFunc(dels, func(e engine.Entry) bool {
		return slices.ContainsFunc(protect, func(p string) bool { return engine.IsWithin(e.Path, p) })
	})
}

// scopeParents returns the local directories that contain the scopes of an
// incremental pass: a change in a scope changed its parent's mtime, which
// the scope's own diff does not cover. The root is not an entry and is
// left out.
func (c *Client) scopeParents(scopes []string) []engine.Entry {
	rules := c.rules.Load()
	seen := make(map[string]bool)
	var out []engine.Entry
	for _, s := range scopes {
		dir := engine.ParentPath(s)
		if dir == "" || seen[dir] || rules.match(dir, true) {
			continue
		}
		seen[dir] = true
		info, err := os.Lstat(c.abs(dir))
		if err != nil || !info.IsDir() {
			// Gone or replaced: the change to its own parent covers it.
			continue
		}
		e, err := engine.EntryFromInfo(dir, info, "")
		if err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

// execute applies plan in the protocol's order, with two changes: only
// the deletions that make room for a new entry come first; the others wait
// until the contents are in place, so that a file moved or renamed locally
// is copied on the server from its old place (copy_content) before that
// place is deleted. And the directories the server does not make for the
// files (see [splitMkdir]) are made while the files go. Then metadata,
// deepest first. extraMeta are more directories whose metadata to set.
func (p *pass) execute(ctx context.Context, plan engine.Plan, extraMeta []engine.Entry) error {
	early, late := splitDeletes(plan)
	if err := p.delete(ctx, early); err != nil {
		return err
	}
	explicit, implied := splitMkdir(plan)
	// The directories made explicitly hold no file or symlink of the
	// plan, so they are made while the files go, not in a round before.
	mkdirDone := make(chan error, 1)
	go func() {
		mkdirDone <- p.apply(ctx, "mkdir", explicit,
			func(e engine.Entry) *dirsyncv1.Change {
				return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: entryToProto(e)}}
			},
			func(engine.Entry, *dirsyncv1.ChangeResult) { p.sum.Directories++ })
	}()
	fileMeta, err := p.sendFiles(ctx, plan.Send)
	if mkdirErr := <-mkdirDone; err == nil {
		err = mkdirErr
	}
	if err != nil {
		return err
	}
	if p.hooks.filesDone != nil && !plan.Empty() {
		p.hooks.filesDone(p.scanned)
	}
	err = p.apply(ctx, "symlink", plan.Symlink,
		func(e engine.Entry) *dirsyncv1.Change {
			return &dirsyncv1.Change{Action: &dirsyncv1.Change_Symlink{Symlink: entryToProto(e)}}
		},
		func(engine.Entry, *dirsyncv1.ChangeResult) { p.sum.Symlinks++ })
	if err != nil {
		return err
	}
	if err := p.link(ctx, plan.Link); err != nil {
		return err
	}
	err = p.applyParallel(ctx, "make special file", plan.Special,
		func(e engine.Entry) *dirsyncv1.Change {
			return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: entryToProto(e)}}
		},
		func(engine.Entry, *dirsyncv1.ChangeResult) { p.sum.Specials++ })
	if err != nil {
		return err
	}
	if err := p.delete(ctx, late); err != nil {
		return err
	}
	return p.applyMeta(ctx, metaOrder(fileMeta, plan.SetMeta, extraMeta),
		func(e engine.Entry) *dirsyncv1.Change {
			return &dirsyncv1.Change{Action: &dirsyncv1.Change_SetMetadata{SetMetadata: entryToProto(e)}}
		},
		func(e engine.Entry, _ *dirsyncv1.ChangeResult) {
			p.sum.Metadata++
			if implied[e.Path] {
				// Made by the server for the contents, given its mode
				// and mtime just now.
				p.sum.Directories++
			}
		})
}

// link makes the plan's hard links, once their primaries are in place. A
// link whose primary failed in this pass waits for the next one, which
// sends both: made now, it would take the server's old copy.
func (p *pass) link(ctx context.Context, links []engine.Entry) error {
	p.mu.Lock()
	links = slices.DeleteFunc(slices.Clone(links), func(e engine.Entry) bool {
		if _, failed := p.failed[e.HardlinkTarget]; failed {
			p.failed[e.Path] = "hard link: its primary " + e.HardlinkTarget + " failed"
			return true
		}
		return false
	})
	p.mu.Unlock()
	return p.apply(ctx, "hard link", links,
		func(e engine.Entry) *dirsyncv1.Change {
			return &dirsyncv1.Change{Action: &dirsyncv1.Change_MakeHardlink{MakeHardlink: entryToProto(e)}}
		},
		func(engine.Entry, *dirsyncv1.ChangeResult) { p.sum.HardLinks++ })
}

// splitMkdir splits the directories plan makes into those to make
// explicitly, which hold no file or symlink of the plan at any depth, and
// those the server makes itself, with mode 0755, when it writes a file or
// symlink below them (implied): every new directory is in SetMeta, which
// gives it its mode and mtime afterwards. So a tree of new directories
// costs no round of its own, and a directory whose mode denies writing is
// made so only once its contents are in.
func splitMkdir(plan engine.Plan) (explicit []engine.Entry, implied map[string]bool) {
	if len(plan.Mkdir) == 0 {
		return nil, nil
	}
	filled := make(map[string]bool)
	mark := func(p string) {
		for dir := engine.ParentPath(p); dir != "" && !filled[dir]; dir = engine.ParentPath(dir) {
			filled[dir] = true
		}
	}
	for _, fc := range plan.Send {
		mark(fc.Local.Path)
	}
	for _, e := range plan.Symlink {
		mark(e.Path)
	}
	for _, e := range plan.Link {
		mark(e.Path)
	}
	for _, e := range plan.Special {
		mark(e.Path)
	}
	implied = make(map[string]bool)
	for _, e := range plan.Mkdir {
		if filled[e.Path] {
			implied[e.Path] = true
		} else {
			explicit = append(explicit, e)
		}
	}
	return explicit, implied
}

// delete removes remote entries. They are independent (none lies under
// another), so they go in parallel requests.
func (p *pass) delete(ctx context.Context, dels []engine.Entry) error {
	return p.applyParallel(ctx, "delete", dels,
		func(e engine.Entry) *dirsyncv1.Change {
			return deleteChange(e.Path)
		},
		func(e engine.Entry, _ *dirsyncv1.ChangeResult) {
			p.sum.Deleted++
			p.c.hashes.forget(e.Path)
		})
}

// splitDeletes splits the plan's deletions into those that must come first,
// because something the plan creates lies at or below the deleted path (a
// type change), and those that can wait until the end of the pass. Both
// keep the plan's order.
func splitDeletes(plan engine.Plan) (early, late []engine.Entry) {
	if len(plan.Delete) == 0 {
		return nil, nil
	}
	// created holds every created path and all its ancestors: a deleted
	// path is in the way exactly when it is one of them.
	created := make(map[string]bool)
	mark := func(path string) {
		for ; path != "" && !created[path]; path = engine.ParentPath(path) {
			created[path] = true
		}
	}
	for _, e := range plan.Mkdir {
		mark(e.Path)
	}
	for _, fc := range plan.Send {
		mark(fc.Local.Path)
	}
	for _, e := range plan.Symlink {
		mark(e.Path)
	}
	for _, e := range plan.Link {
		mark(e.Path)
	}
	for _, e := range plan.Special {
		mark(e.Path)
	}
	for _, d := range plan.Delete {
		if created[d.Path] {
			early = append(early, d)
		} else {
			late = append(late, d)
		}
	}
	return early, late
}

// metaOrder merges lists of entries whose metadata to set into one list
// without duplicate paths, deepest first, so that every entry comes before
// its parent directory, whose mtime setting a child's metadata does not
// disturb.
func metaOrder(lists ...[]engine.Entry) []engine.Entry {
	seen := make(map[string]bool)
	var out []engine.Entry
	for _, l := range lists {
		for _, e := range l {
			if !seen[e.Path] {
				seen[e.Path] = true
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b engine.Entry) int {
		return strings.Count(b.Path, "/") - strings.Count(a.Path, "/")
	})
	return out
}

// applyMeta sets the metadata of entries, in metaOrder, with the changes
// made by change, calling ok for each that succeeded, in up to
// Options.Concurrency parallel requests: in one request, the 1,000
// directories of an initial sync kept one of the server's two cores
// busy for 40-55 ms while the other waited. A directory's mode can bar
// the way to what lies below it (one without x), so an entry must be set
// after everything below it: each request takes whole top-level
// subtrees, deepest first, and no subtree's entries depend on another's.
func (p *pass) applyMeta(ctx context.Context, entries []engine.Entry,
	change func(engine.Entry) *dirsyncv1.Change, ok func(engine.Entry, *dirsyncv1.ChangeResult)) error {
	const op = "set metadata"
	parts := subtreeParts(entries, p.c.opts.Concurrency, minParallelChanges)
	if len(parts) <= 1 {
		return p.apply(ctx, op, entries, change, ok)
	}
	ordered := make([]engine.Entry, 0, len(entries))
	bounds := []int{0}
	for _, part := range parts {
		ordered = append(ordered, part...)
		bounds = append(bounds, len(ordered))
	}
	changes, result := p.changesFor(op, ordered, change, ok)
	return p.c.applyChangesSplit(ctx, changes, bounds, result)
}

// subtreeParts splits entries into at most n lists, each made of whole
// top-level subtrees (an entry's subtree is named by the first component
// of its path) and keeping their order, balanced by their number of
// entries. There are fewer lists when the lists would average under
// minPart entries, and one when n is below 2 or a single subtree holds
// everything.
func subtreeParts(entries []engine.Entry, n, minPart int) [][]engine.Entry {
	n = max(1, min(n, len(entries)/max(minPart, 1)))
	if n == 1 {
		return [][]engine.Entry{entries}
	}
	index := map[string]int{}
	var groups [][]engine.Entry
	for _, e := range entries {
		top, _, _ := strings.Cut(e.Path, "/")
		i, ok := index[top]
		if !ok {
			i = len(groups)
			index[top] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e)
	}
	if len(groups) == 1 {
		return groups
	}
	// Largest first, each into the list with the fewest entries so far.
	slices.SortStableFunc(groups, func(a, b []engine.Entry) int { return len(b) - len(a) })
	parts := make([][]engine.Entry, min(n, len(groups)))
	for _, g := range groups {
		least := 0
		for i := range parts {
			if len(parts[i]) < len(parts[least]) {
				least = i
			}
		}
		parts[least] = append(parts[least], g...)
	}
	// A request of a few entries is not worth its own round trip: fold
	// the smallest lists into the next smallest.
	slices.SortStableFunc(parts, func(a, b []engine.Entry) int { return len(b) - len(a) })
	for len(parts) > 1 && len(parts[len(parts)-1]) < minPart {
		last := len(parts) - 1
		parts[last-1] = append(parts[last-1], parts[last]...)
		parts = parts[:last]
		slices.SortStableFunc(parts, func(a, b []engine.Entry) int { return len(b) - len(a) })
	}
	return parts
}

// apply sends one change per entry, made by change, and calls ok for each
// that succeeded; failures are recorded.
func (p *pass) apply(ctx context.Context, op string, entries []engine.Entry,
	change func(engine.Entry) *dirsyncv1.Change, ok func(engine.Entry, *dirsyncv1.ChangeResult)) error {
	return p.applyIn(ctx, 1, op, entries, change, ok)
}

// applyParallel is apply for entries whose changes are independent of each
// other: they go in up to Options.Concurrency parallel requests.
func (p *pass) applyParallel(ctx context.Context, op string, entries []engine.Entry,
	change func(engine.Entry) *dirsyncv1.Change, ok func(engine.Entry, *dirsyncv1.ChangeResult)) error {
	return p.applyIn(ctx, p.c.opts.Concurrency, op, entries, change, ok)
}

// applyIn does the work of apply and applyParallel, in up to parts
// parallel requests.
func (p *pass) applyIn(ctx context.Context, parts int, op string, entries []engine.Entry,
	change func(engine.Entry) *dirsyncv1.Change, ok func(engine.Entry, *dirsyncv1.ChangeResult)) error {
	if len(entries) == 0 {
		return nil
	}
	changes, result := p.changesFor(op, entries, change, ok)
	return p.c.applyChangesParallel(ctx, changes, parts, result)
}

// changesFor makes the change of each of entries with change, and the
// result callback that records a failed one under op and calls ok for
// the others.
func (p *pass) changesFor(op string, entries []engine.Entry, change func(engine.Entry) *dirsyncv1.Change,
	ok func(engine.Entry, *dirsyncv1.ChangeResult)) ([]*dirsyncv1.Change, func(int, *dirsyncv1.ChangeResult)) {
	changes := make([]*dirsyncv1.Change, len(entries))
	for i, e := range entries {
		changes[i] = change(e)
	}
	return changes, func(i int, r *dirsyncv1.ChangeResult) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r.GetCode() != 0 {
			p.failCodeLocked(entries[i].Path, op, r.GetCode(), r.GetMessage())
			return
		}
		ok(entries[i], r)
	}
}

// fail records that the item at path failed; it is retried next pass.
func (p *pass) fail(path, op string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failLocked(path, op, err)
}

// failLocked is fail with p.mu held.
func (p *pass) failLocked(path, op string, err error) {
	p.failed[path] = op + ": " + err.Error()
	if errors.Is(err, errChanged) {
		p.c.log.Info("file changed during the pass; retrying next pass", "path", path, "op", op)
		return
	}
	p.c.log.Warn("item failed; retrying next pass", "path", path, "op", op, "err", err)
}

// failCodeLocked records a failure the server reported, with p.mu held.
func (p *pass) failCodeLocked(path, op string, code uint32, msg string) {
	p.failed[path] = fmt.Sprintf("%s: server refused it: %s: %s", op, connect.Code(code), msg)
	p.c.log.Warn("server refused change; retrying next pass", "path", path, "op", op, "code", connect.Code(code).String(), "message", msg)
}
