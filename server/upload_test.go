package server

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

func TestUpload(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	old := randomBytes(3*1024+100, 1) // 3 blocks of 1 KiB and a tail
	edited := bytes.Clone(old)
	copy(edited[1500:], "EDITED")
	big := randomBytes(600<<10, 2) // three literal messages

	type check func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse)
	cases := []struct {
		name  string
		setup map[string][]byte // files on the server before the upload
		reqs  func(t *testing.T) []*dirsyncv1.UploadRequest
		codes []connect.Code // per file; 0 is OK
		check check
	}{
		{
			name: "new file literal",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				return literalUpload(fileEntry("dir/sub/new.bin", big, 0o640, mtime), big)
			},
			codes: []connect.Code{0},
			check: func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "dir/sub/new.bin"); !bytes.Equal(got, big) {
					t.Errorf("content differs")
				}
				info, err := os.Stat(filepath.Join(env.root, "dir/sub/new.bin"))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o640 {
					t.Errorf("mode = %v, want 0640", info.Mode())
				}
				if !info.ModTime().Equal(mtime) {
					t.Errorf("mtime = %v, want %v", info.ModTime(), mtime)
				}
				if resps[0].GetLiteralBytes() != int64(len(big)) || resps[0].GetMatchedBytes() != 0 {
					t.Errorf("literal/matched = %d/%d, want %d/0", resps[0].GetLiteralBytes(), resps[0].GetMatchedBytes(), len(big))
				}
			},
		},
		{
			name: "empty file in one message",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				return []*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("empty", nil, 0o600, mtime)}, Finish: true}}
			},
			codes: []connect.Code{0},
			check: func(t *testing.T, env *testEnv, _ []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "empty"); len(got) != 0 {
					t.Errorf("content = %q, want empty", got)
				}
			},
		},
		{
			name:  "delta against existing file",
			setup: map[string][]byte{"f": old},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				req, _ := deltaUpload(t, fileEntry("f", edited, 0o644, mtime), old, edited, 1024)
				return []*dirsyncv1.UploadRequest{req}
			},
			codes: []connect.Code{0},
			check: func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "f"); !bytes.Equal(got, edited) {
					t.Errorf("content differs")
				}
				r := resps[0]
				if r.GetLiteralBytes()+r.GetMatchedBytes() != int64(len(edited)) {
					t.Errorf("literal %d + matched %d != size %d", r.GetLiteralBytes(), r.GetMatchedBytes(), len(edited))
				}
				if r.GetMatchedBytes() < 2*1024 || r.GetLiteralBytes() > 1124 {
					t.Errorf("literal/matched = %d/%d: delta did not reuse the base", r.GetLiteralBytes(), r.GetMatchedBytes())
				}
			},
		},
		{
			name: "sha256 with the finish instead of the header",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				e := fileEntry("late/sum", big, 0o644, mtime)
				sum := e.Sha256
				e.Sha256 = nil
				reqs := literalUpload(e, big)
				reqs[len(reqs)-1].Sha256 = sum
				return reqs
			},
			codes: []connect.Code{0},
			check: func(t *testing.T, env *testEnv, _ []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "late/sum"); !bytes.Equal(got, big) {
					t.Errorf("content differs")
				}
			},
		},
		{
			name:  "bad sha256 with the finish",
			setup: map[string][]byte{"f": old},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				var reqs []*dirsyncv1.UploadRequest
				for _, finishSum := range [][]byte{
					make([]byte, 32), // not the content's
					{1, 2, 3},        // not a SHA-256
				} {
					e := fileEntry("f", edited, 0o644, mtime)
					e.Sha256 = nil
					r := literalUpload(e, edited)
					r[len(r)-1].Sha256 = finishSum
					reqs = append(reqs, r...)
				}
				e := fileEntry("f", edited, 0o644, mtime)
				r := literalUpload(e, edited)
				r[len(r)-1].Sha256 = make([]byte, 32) // disagrees with the header
				return append(reqs, r...)
			},
			codes: []connect.Code{connect.CodeAborted, connect.CodeInvalidArgument, connect.CodeInvalidArgument},
			check: oldIntact("f", old),
		},
		{
			name: "bad header",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				noSum := fileEntry("a", []byte("x"), 0o644, mtime)
				noSum.Sha256 = nil
				badMode := fileEntry("b", []byte("x"), 0o10000, mtime)
				dir := fileEntry("c", []byte("x"), 0o644, mtime)
				dir.Type = dirsyncv1.EntryType_ENTRY_TYPE_DIRECTORY
				neg := fileEntry("d", []byte("x"), 0o644, mtime)
				neg.Size = -1
				var reqs []*dirsyncv1.UploadRequest
				for _, e := range []*dirsyncv1.Entry{noSum, badMode, dir, neg, nil} {
					reqs = append(reqs, &dirsyncv1.UploadRequest{Header: &dirsyncv1.UploadHeader{Entry: e}, Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("x"))}, Finish: true})
				}
				return reqs
			},
			codes: []connect.Code{connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument},
		},
		{
			name: "compressed literals",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				text := bytes.Repeat([]byte("compressible "), 300000) // 3.9 MB: two frames
				z := func(b []byte) *dirsyncv1.DeltaOp {
					return zstdOp(engine.CompressLiteral(nil, b), len(b))
				}
				half := engine.MaxZstdLiteralSize
				good := &dirsyncv1.UploadRequest{
					Header: &dirsyncv1.UploadHeader{Entry: fileEntry("z/good", text, 0o644, mtime)},
					Ops:    []*dirsyncv1.DeltaOp{z(text[:half]), z(text[half:])}, Finish: true,
				}
				lying := &dirsyncv1.UploadRequest{
					Header: &dirsyncv1.UploadHeader{Entry: fileEntry("z/lying", text[:1000], 0o644, mtime)},
					Ops:    []*dirsyncv1.DeltaOp{zstdOp(engine.CompressLiteral(nil, text[:1000]), 999)}, Finish: true,
				}
				tooLong := &dirsyncv1.UploadRequest{
					Header: &dirsyncv1.UploadHeader{Entry: fileEntry("z/short", text[:10], 0o644, mtime)},
					Ops:    []*dirsyncv1.DeltaOp{z(text[:1000])}, Finish: true,
				}
				garbage := &dirsyncv1.UploadRequest{
					Header: &dirsyncv1.UploadHeader{Entry: fileEntry("z/garbage", text[:10], 0o644, mtime)},
					Ops:    []*dirsyncv1.DeltaOp{zstdOp([]byte("not zstd"), 10)}, Finish: true,
				}
				return []*dirsyncv1.UploadRequest{good, lying, tooLong, garbage}
			},
			codes: []connect.Code{0, connect.CodeInvalidArgument, connect.CodeInvalidArgument, connect.CodeInvalidArgument},
			check: func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "z/good"); !bytes.Equal(got, bytes.Repeat([]byte("compressible "), 300000)) {
					t.Errorf("z/good holds %d bytes, not the text", len(got))
				}
				if lit := resps[0].GetLiteralBytes(); lit != 3900000 {
					t.Errorf("literal bytes %d, want the decompressed 3900000", lit)
				}
				for _, r := range resps[1:] {
					if !strings.Contains(r.GetMessage(), r.GetPath()) {
						t.Errorf("message %q does not name %q", r.GetMessage(), r.GetPath())
					}
				}
			},
		},
		{
			name:  "middle file of three fails",
			setup: map[string][]byte{"m": old},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				bad := fileEntry("m", edited, 0o644, mtime)
				bad.Sha256 = make([]byte, 32)
				var reqs []*dirsyncv1.UploadRequest
				reqs = append(reqs, literalUpload(fileEntry("one", []byte("1"), 0o644, mtime), []byte("1"))...)
				reqs = append(reqs, literalUpload(bad, edited)...)
				reqs = append(reqs, literalUpload(fileEntry("three", []byte("3"), 0o644, mtime), []byte("3"))...)
				return reqs
			},
			codes: []connect.Code{0, connect.CodeAborted, 0},
			check: func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse) {
				oldIntact("m", old)(t, env, resps)
				if got := readFile(t, env.root, "one"); string(got) != "1" {
					t.Errorf("one = %q", got)
				}
				if got := readFile(t, env.root, "three"); string(got) != "3" {
					t.Errorf("three = %q", got)
				}
			},
		},
		{
			name:  "file replaces directory",
			setup: map[string][]byte{"d/x/y": []byte("deep")},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				return literalUpload(fileEntry("d", []byte("now a file"), 0o644, mtime), []byte("now a file"))
			},
			codes: []connect.Code{0},
			check: func(t *testing.T, env *testEnv, _ []*dirsyncv1.UploadResponse) {
				if got := readFile(t, env.root, "d"); string(got) != "now a file" {
					t.Errorf("d = %q", got)
				}
			},
		},
		{
			name:  "parent is a file",
			setup: map[string][]byte{"p": []byte("file")},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				return literalUpload(fileEntry("p/x", []byte("x"), 0o644, mtime), []byte("x"))
			},
			codes: []connect.Code{connect.CodeFailedPrecondition},
		},
		{
			name:  "packed files after a finished file",
			setup: map[string][]byte{"m": old},
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				bad := fileEntry("m", edited, 0o644, mtime)
				bad.Sha256 = make([]byte, 32)
				first := &dirsyncv1.UploadRequest{
					Header: &dirsyncv1.UploadHeader{Entry: fileEntry("p/own", []byte("own"), 0o644, mtime)},
					Ops:    []*dirsyncv1.DeltaOp{literalOp([]byte("own"))}, Finish: true,
				}
				noSum := fileEntry("p/late-sum", []byte("late"), 0o600, mtime)
				sum := noSum.Sha256
				noSum.Sha256 = nil
				first.Files = []*dirsyncv1.UploadFile{
					{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("p/a", []byte("a"), 0o644, mtime)}, Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("a"))}},
					{Header: &dirsyncv1.UploadHeader{Entry: bad}, Ops: []*dirsyncv1.DeltaOp{literalOp(edited)}},
					{Header: &dirsyncv1.UploadHeader{Entry: noSum}, Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("late"))}, Sha256: sum},
					{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("q/empty", nil, 0o644, mtime)}},
				}
				// A message may also carry packed files alone.
				next := &dirsyncv1.UploadRequest{Files: []*dirsyncv1.UploadFile{
					{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("p/z", []byte("z"), 0o644, mtime)}, Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("z"))}},
				}}
				return []*dirsyncv1.UploadRequest{first, next}
			},
			codes: []connect.Code{0, 0, connect.CodeAborted, 0, 0, 0},
			check: func(t *testing.T, env *testEnv, resps []*dirsyncv1.UploadResponse) {
				want := []string{"p/own", "p/a", "m", "p/late-sum", "q/empty", "p/z"}
				for i, r := range resps {
					if r.GetPath() != want[i] {
						t.Errorf("answer %d is for %q, want %q", i, r.GetPath(), want[i])
					}
				}
				oldIntact("m", old)(t, env, resps)
				for rel, data := range map[string]string{"p/own": "own", "p/a": "a", "p/late-sum": "late", "q/empty": "", "p/z": "z"} {
					if got := readFile(t, env.root, rel); string(got) != data {
						t.Errorf("%s = %q, want %q", rel, got, data)
					}
				}
			},
		},
		{
			name: "reserved temporary name",
			reqs: func(t *testing.T) []*dirsyncv1.UploadRequest {
				return literalUpload(fileEntry(".dirsync-tmp-x", []byte("x"), 0o644, mtime), []byte("x"))
			},
			codes: []connect.Code{connect.CodeInvalidArgument},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachProtocol(t, func(t *testing.T, env *testEnv) {
				for rel, data := range tc.setup {
					writeFile(t, env.root, rel, data)
				}
				resps, err := env.upload(t, tc.reqs(t)...)
				if err != nil {
					t.Fatalf("Upload: %v", err)
				}
				if len(resps) != len(tc.codes) {
					t.Fatalf("got %d responses, want %d", len(resps), len(tc.codes))
				}
				for i, r := range resps {
					if got, want := codeName(r.GetCode()), codeName(uint32(tc.codes[i])); got != want {
						t.Errorf("file %d (%q): code %s, want %s (%s)", i, r.GetPath(), got, want, r.GetMessage())
					}
				}
				if tc.check != nil {
					tc.check(t, env, resps)
				}
				assertNoTempFiles(t, env.root)
			})
		})
	}
}

// oldIntact checks that rel still holds data.
func oldIntact(rel string, data []byte) func(t *testing.T, env *testEnv, _ []*dirsyncv1.UploadResponse) {
	return func(t *testing.T, env *testEnv, _ []*dirsyncv1.UploadResponse) {
		t.Helper()
		if got := readFile(t, env.root, rel); !bytes.Equal(got, data) {
			t.Errorf("%s changed after a failed upload", rel)
		}
	}
}

// TestUploadProtocolViolations checks the messages that end the stream.
func TestUploadProtocolViolations(t *testing.T) {
	e := fileEntry("a", []byte("x"), 0o644, time.Now())
	cases := []struct {
		name string
		reqs []*dirsyncv1.UploadRequest
	}{
		{"ops before header", []*dirsyncv1.UploadRequest{{Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("x"))}}}},
		{"finish before header", []*dirsyncv1.UploadRequest{{Finish: true}}},
		{"header before finish", []*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: e}}, {Header: &dirsyncv1.UploadHeader{Entry: e}}}},
		{"end in the middle of a file", []*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: e}, Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("x"))}}}},
		{"empty message", []*dirsyncv1.UploadRequest{{}}},
		{"packed files while a file is open", []*dirsyncv1.UploadRequest{{
			Header: &dirsyncv1.UploadHeader{Entry: e},
			Files:  []*dirsyncv1.UploadFile{{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("b", nil, 0o644, time.Now())}}},
		}}},
		{"packed file without a header", []*dirsyncv1.UploadRequest{{Files: []*dirsyncv1.UploadFile{{Ops: []*dirsyncv1.DeltaOp{literalOp([]byte("x"))}}}}}},
		{"packed files beside stray ops", []*dirsyncv1.UploadRequest{{
			Ops:   []*dirsyncv1.DeltaOp{literalOp([]byte("x"))},
			Files: []*dirsyncv1.UploadFile{{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("b", nil, 0o644, time.Now())}}},
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachProtocol(t, func(t *testing.T, env *testEnv) {
				_, err := env.upload(t, tc.reqs...)
				if got := connect.CodeOf(err); got != connect.CodeInvalidArgument {
					t.Errorf("stream error %v (code %v), want InvalidArgument", err, got)
				}
				if _, err := os.Lstat(filepath.Join(env.root, "a")); err == nil {
					t.Errorf("a was created")
				}
				assertNoTempFiles(t, env.root)
				if n := env.srv.locks.size(); n != 0 {
					t.Errorf("%d path locks left", n)
				}
			})
		})
	}
}

// TestUploadThroughSymlinkedParent checks that a write never goes through
// a symlink, even one that points inside the root.
func TestUploadThroughSymlinkedParent(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		outside := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(env.root, "a")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(env.root, "in"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("in", filepath.Join(env.root, "b")); err != nil {
			t.Fatal(err)
		}
		data := []byte("escape")
		var reqs []*dirsyncv1.UploadRequest
		for _, rel := range []string{"a/x", "a/sub/x", "b/x"} {
			reqs = append(reqs, literalUpload(fileEntry(rel, data, 0o644, time.Now()), data)...)
		}
		resps, err := env.upload(t, reqs...)
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		for _, r := range resps {
			if got := connect.Code(r.GetCode()); got != connect.CodeFailedPrecondition {
				t.Errorf("%s: code %v, want FailedPrecondition", r.GetPath(), got)
			}
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Errorf("%d entries created outside the root", len(ents))
		}
		if ents, _ := os.ReadDir(filepath.Join(env.root, "in")); len(ents) != 0 {
			t.Errorf("%d entries created through the inside symlink", len(ents))
		}
		results := env.applyChanges(t,
			&dirsyncv1.Change{Action: &dirsyncv1.Change_MakeDirectory{MakeDirectory: &dirsyncv1.Entry{Path: "a/d", Mode: 0o755}}},
			&dirsyncv1.Change{Action: &dirsyncv1.Change_Symlink{Symlink: &dirsyncv1.Entry{Path: "a/l", LinkTarget: "x"}}},
		)
		for _, r := range results {
			if got := connect.Code(r.GetCode()); got != connect.CodeFailedPrecondition {
				t.Errorf("%s: code %v, want FailedPrecondition", r.GetPath(), got)
			}
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Errorf("%d entries created outside the root", len(ents))
		}
	})
}

// TestUploadConcurrentStreams uploads many files on parallel streams, some
// to the same path.
func TestUploadConcurrentStreams(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	const streams = 8
	done := make(chan error, streams)
	for i := range streams {
		go func() {
			var reqs []*dirsyncv1.UploadRequest
			for j := range 10 {
				data := randomBytes(5000+j, byte(i))
				reqs = append(reqs, literalUpload(fileEntry("same", data, 0o644, time.Now()), data)...)
				data = randomBytes(100+i, byte(j))
				reqs = append(reqs, literalUpload(fileEntry(filepath.Join("s", string(rune('a'+i)), string(rune('a'+j))), data, 0o644, time.Now()), data)...)
			}
			resps, err := env.upload(t, reqs...)
			if err == nil {
				for _, r := range resps {
					if r.GetCode() != 0 {
						err = connect.NewError(connect.Code(r.GetCode()), nil)
					}
				}
			}
			done <- err
		}()
	}
	for range streams {
		if err := <-done; err != nil {
			t.Errorf("stream: %v", err)
		}
	}
	data := readFile(t, env.root, "same")
	sum := sha256.Sum256(data)
	c, ok := env.srv.index.get("same")
	if !ok || c.sum != sum {
		t.Errorf("index does not match the final content of same")
	}
	assertNoTempFiles(t, env.root)
	if n := env.srv.locks.size(); n != 0 {
		t.Errorf("%d path locks left", n)
	}
}

// TestUploadGroupCommit sends more files on one stream than one group
// commit takes, spread over directories and with failures among them, and
// checks that every file is answered in order, the good ones are in place
// and the failed ones left nothing behind.
func TestUploadGroupCommit(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 3*commitGroupMax + 5
	var reqs []*dirsyncv1.UploadRequest
	want := map[string][]byte{}
	bad := map[string]bool{}
	var order []string
	for i := range n {
		rel := fmt.Sprintf("d%d/f%03d", i%7, i)
		data := randomBytes(100+i*37, byte(i))
		entry := fileEntry(rel, data, 0o644, mtime)
		if i%29 == 3 {
			entry.Sha256[0] ^= 0xff // the content will not match
			bad[rel] = true
		} else {
			want[rel] = data
		}
		order = append(order, rel)
		reqs = append(reqs, literalUpload(entry, data)...)
	}
	resps := env.uploadAll(t, n, reqs...)
	for i, resp := range resps {
		if resp.GetPath() != order[i] {
			t.Fatalf("response %d is for %q, want %q", i, resp.GetPath(), order[i])
		}
		if got, wantBad := resp.GetCode() != 0, bad[order[i]]; got != wantBad {
			t.Errorf("%s: code %s, want failure %v", order[i], codeName(resp.GetCode()), wantBad)
		}
	}
	for rel, data := range want {
		if got := readFile(t, env.root, rel); !bytes.Equal(got, data) {
			t.Errorf("%s: content differs", rel)
		}
	}
	for rel := range bad {
		if _, err := os.Lstat(filepath.Join(env.root, rel)); !os.IsNotExist(err) {
			t.Errorf("%s: failed upload left a file (err %v)", rel, err)
		}
	}
	assertNoTempFiles(t, env.root)
}

// TestUploadDurability checks which uploads wait for a sync: by default
// only those that replace an entry (a file, a symlink, a directory) do,
// while a file with a free name is placed at once; with SyncNewFiles
// every file does. Each case uploads 20 files on one stream.
func TestUploadDurability(t *testing.T) {
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		syncNew  bool
		existing string // what is at every other path first: "", "file", "symlink" or "dir"
		wantSync bool
	}{
		{name: "new files", wantSync: false},
		{name: "new files with SyncNewFiles", syncNew: true, wantSync: true},
		{name: "replacing files", existing: "file", wantSync: true},
		{name: "replacing symlinks", existing: "symlink", wantSync: true},
		{name: "replacing directories", existing: "dir", wantSync: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			outside := t.TempDir()
			const n = 20
			for i := range n {
				if i%2 == 1 {
					continue
				}
				rel := fmt.Sprintf("d/f%02d", i)
				p := filepath.Join(root, rel)
				switch tt.existing {
				case "file":
					writeFile(t, root, rel, []byte("old"))
				case "symlink":
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(filepath.Join(outside, rel), p); err != nil {
						t.Fatal(err)
					}
				case "dir":
					writeFile(t, root, rel+"/inner", []byte("inner"))
				}
			}
			env := newEnvOpts(t, root, protocols[1], Options{SyncNewFiles: tt.syncNew})
			want := map[string][]byte{}
			var reqs []*dirsyncv1.UploadRequest
			for i := range n {
				rel := fmt.Sprintf("d/f%02d", i)
				data := randomBytes(100+i*37, byte(i))
				want[rel] = data
				reqs = append(reqs, literalUpload(fileEntry(rel, data, 0o640, mtime), data)...)
			}
			resps := env.uploadAll(t, n, reqs...)
			for i, resp := range resps {
				if rel := fmt.Sprintf("d/f%02d", i); resp.GetPath() != rel || resp.GetCode() != 0 {
					t.Errorf("response %d: %q code %s %q, want %q OK", i, resp.GetPath(), codeName(resp.GetCode()), resp.GetMessage(), rel)
				}
			}
			for rel, data := range want {
				p := filepath.Join(env.root, rel)
				info, err := os.Lstat(p)
				if err != nil {
					t.Fatalf("%s: %v", rel, err)
				}
				if !info.Mode().IsRegular() || info.Mode().Perm() != 0o640 || !info.ModTime().Equal(mtime) {
					t.Errorf("%s: mode %v mtime %v, want a 0640 file from %v", rel, info.Mode(), info.ModTime(), mtime)
				}
				if got := readFile(t, env.root, rel); !bytes.Equal(got, data) {
					t.Errorf("%s: content differs", rel)
				}
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("an upload wrote through a symlink: %v", entries)
			}
			assertNoTempFiles(t, env.root)
			if got := env.srv.stats.durableSyncs.Load() > 0; got != tt.wantSync {
				t.Errorf("%d syncs waited for, want some: %v", env.srv.stats.durableSyncs.Load(), tt.wantSync)
			}
			// Every file written is in the content index, so that a copy
			// of it is made on the server.
			for rel, data := range want {
				if c, ok := env.srv.index.get(rel); !ok || c.sum != sha256.Sum256(data) {
					t.Errorf("%s: content index has %+v, %v; want its SHA-256", rel, c, ok)
				}
			}
		})
	}
}
