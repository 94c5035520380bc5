package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// rawEntry moves the path of e into its raw field.
func rawEntry(e *dirsyncv1.Entry) *dirsyncv1.Entry {
	e.RawPath, e.Path = []byte(e.Path), ""
	return e
}

// entryName returns the path an entry of the server names, in whichever
// field it came.
func entryName(e interface {
	GetPath() string
	GetRawPath() []byte
}) string {
	if len(e.GetRawPath()) > 0 {
		return string(e.GetRawPath())
	}
	return e.GetPath()
}

// TestRawNames mirrors names that Linux allows but protobuf strings do
// not hold (Latin-1) through every RPC that names a path, and names with
// a backslash through the string fields, and checks that the server
// answers each in the field it belongs in.
func TestRawNames(t *testing.T) {
	mtime := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	data := []byte("contenu")
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		const (
			dir    = "r\xe9pertoire"
			file   = dir + "/caf\xe9.txt"
			link   = dir + "/lien\xff"
			target = "cible\xe9"
			back   = `win\dows.txt`
		)
		for _, e := range []*dirsyncv1.Entry{rawEntry(fileEntry(file, data, 0o640, mtime)), fileEntry(back, data, 0o644, mtime)} {
			resp := env.uploadOne(t, literalUpload(e, data)...)
			if resp.GetCode() != 0 || entryName(resp) != entryName(e) || (len(e.GetRawPath()) > 0) != (len(resp.GetRawPath()) > 0) {
				t.Fatalf("Upload(%q) = %v, want OK naming it in the same field", entryName(e), resp)
			}
		}
		sym := &dirsyncv1.Entry{Type: dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK, RawPath: []byte(link), RawLinkTarget: []byte(target), MtimeNs: mtime.UnixNano()}
		results := env.applyChanges(t,
			&dirsyncv1.Change{Action: &dirsyncv1.Change_Symlink{Symlink: sym}},
			&dirsyncv1.Change{Action: &dirsyncv1.Change_SetMetadata{SetMetadata: rawEntry(&dirsyncv1.Entry{Path: dir, Mode: 0o750, MtimeNs: mtime.UnixNano()})}},
		)
		for _, r := range results {
			if r.GetCode() != 0 || len(r.GetRawPath()) == 0 || r.GetPath() != "" {
				t.Errorf("ApplyChanges result %v, want OK with a raw path", r)
			}
		}
		if got, err := os.Readlink(filepath.Join(env.root, link)); err != nil || got != target {
			t.Errorf("symlink %q = %q, %v; want %q", link, got, err, target)
		}
		if got := readFile(t, env.root, back); !bytes.Equal(got, data) {
			t.Errorf("file %q = %q, want %q", back, got, data)
		}

		stream, err := env.client.GetManifest(testCtx(t), connect.NewRequest(&dirsyncv1.GetManifestRequest{RawPaths: [][]byte{[]byte(dir)}}))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for stream.Receive() {
			for _, e := range stream.Msg().GetEntries() {
				names = append(names, entryName(e))
				if e.GetPath() != "" && len(e.GetRawPath()) > 0 {
					t.Errorf("entry %q has both path fields", entryName(e))
				}
				if e.GetType() == dirsyncv1.EntryType_ENTRY_TYPE_SYMLINK && string(e.GetRawLinkTarget()) != target {
					t.Errorf("symlink %q target %q, want %q in raw_link_target", entryName(e), e.GetRawLinkTarget(), target)
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("GetManifest(raw %q): %v", dir, err)
		}
		stream.Close()
		if want := []string{dir, file, link}; strings.Join(names, "|") != strings.Join(want, "|") {
			t.Errorf("GetManifest(raw %q) = %q, want %q", dir, names, want)
		}

		sig, err := env.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{RawPath: []byte(file)}))
		if err != nil {
			t.Fatal(err)
		}
		for sig.Receive() {
		}
		if err := sig.Err(); err != nil {
			t.Errorf("GetSignature(raw %q): %v", file, err)
		}
		sig.Close()
		if _, err := env.client.GetPartial(testCtx(t), connect.NewRequest(&dirsyncv1.GetPartialRequest{RawPath: []byte(file)})); err != nil {
			t.Errorf("GetPartial(raw %q): %v", file, err)
		}

		del := env.applyChanges(t, &dirsyncv1.Change{Action: &dirsyncv1.Change_RawDelete{RawDelete: []byte(file)}})
		if del[0].GetCode() != 0 {
			t.Errorf("delete raw %q: %v", file, del[0])
		}
		if _, err := os.Lstat(filepath.Join(env.root, file)); !os.IsNotExist(err) {
			t.Errorf("after delete, lstat %q = %v, want not found", file, err)
		}
	})
}

// TestHostileRawPaths sends bad paths in the raw fields of every RPC: the
// server checks them as it checks text paths, and refuses a message that
// sets both forms.
func TestHostileRawPaths(t *testing.T) {
	paths := []string{
		"../x", "\xff/../../x", "../\xff", "/\xff", "\xff\x00b", "\xff//b", "\xff/", "./\xff",
		"\xff" + strings.Repeat("n", 255), strings.Repeat("\xff/", 2048) + "x", ".dirsync-tmp-\xff",
	}
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			f := newFence(t, proto)
			for _, p := range paths {
				e := rawEntry(fileEntry(p, f.secret, 0o644, time.Now()))
				if got := connect.Code(f.uploadOne(t, literalUpload(e, f.secret)...).GetCode()); got != connect.CodeInvalidArgument {
					t.Errorf("Upload(raw %.40q): code %v, want InvalidArgument", p, got)
				}
				results := f.applyChanges(t,
					&dirsyncv1.Change{Action: &dirsyncv1.Change_RawDelete{RawDelete: []byte(p)}},
					&dirsyncv1.Change{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: rawEntry(mkdirChange(p, 0o755).GetMakeDirectory())}},
					&dirsyncv1.Change{Action: &dirsyncv1.Change_Symlink{Symlink: rawEntry(symlinkChange(p, f.outside).GetSymlink())}},
					&dirsyncv1.Change{Action: &dirsyncv1.Change_SetMetadata{SetMetadata: rawEntry(metaChange(p, 0o777, time.Now()).GetSetMetadata())}},
					&dirsyncv1.Change{Action: &dirsyncv1.Change_MakeSpecial{MakeSpecial: rawEntry(&dirsyncv1.Entry{Path: p, Type: dirsyncv1.EntryType_ENTRY_TYPE_FIFO, Mode: 0o644})}},
				)
				for i, r := range results {
					if got := connect.Code(r.GetCode()); got != connect.CodeInvalidArgument {
						t.Errorf("ApplyChanges(raw %.40q) change %d: code %v, want InvalidArgument", p, i, got)
					}
				}
				stream, err := f.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{RawPath: []byte(p)}))
				if err == nil {
					for stream.Receive() {
					}
					err = stream.Err()
					stream.Close()
				}
				if connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("GetSignature(raw %.40q): %v, want InvalidArgument", p, err)
				}
				if _, err := f.client.GetPartial(testCtx(t), connect.NewRequest(&dirsyncv1.GetPartialRequest{RawPath: []byte(p)})); connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("GetPartial(raw %.40q): %v, want InvalidArgument", p, err)
				}
				ms, err := f.client.GetManifest(testCtx(t), connect.NewRequest(&dirsyncv1.GetManifestRequest{RawPaths: [][]byte{[]byte(p)}}))
				if err == nil {
					for ms.Receive() {
					}
					err = ms.Err()
					ms.Close()
				}
				if connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("GetManifest(raw %.40q): %v, want InvalidArgument", p, err)
				}
			}
			both := fileEntry("a", f.secret, 0o644, time.Now())
			both.RawPath = []byte("b\xff")
			if got := connect.Code(f.uploadOne(t, literalUpload(both, f.secret)...).GetCode()); got != connect.CodeInvalidArgument {
				t.Errorf("Upload(path and raw_path): code %v, want InvalidArgument", got)
			}
			if ents, _ := os.ReadDir(f.root); len(ents) != 0 {
				t.Errorf("root holds %d entries after refused requests", len(ents))
			}
			f.check(t)
		})
	}
}
