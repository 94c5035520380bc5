package server

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// cutUpload starts an upload of entry on a stream and ends the stream
// after the first n bytes of data, in the middle of the file.
func cutUpload(t *testing.T, env *testEnv, entry *dirsyncv1.Entry, data []byte, n int) {
	t.Helper()
	reqs := literalUpload(entry, data[:n])
	_, err := env.upload(t, reqs[:len(reqs)-1]...) // without the finish
	if got := connect.CodeOf(err); got != connect.CodeInvalidArgument {
		t.Fatalf("cut stream ended with %v, want InvalidArgument", err)
	}
}

// getPartial calls GetPartial for rel.
func (env *testEnv) getPartial(t *testing.T, rel string) *dirsyncv1.GetPartialResponse {
	t.Helper()
	resp, err := env.client.GetPartial(testCtx(t), connect.NewRequest(&dirsyncv1.GetPartialRequest{Path: rel}))
	if err != nil {
		t.Fatalf("GetPartial(%q): %v", rel, err)
	}
	return resp.Msg
}

// resumeUpload returns the messages that upload data resuming after its
// first offset bytes, claimed to have SHA-256 sum.
func resumeUpload(entry *dirsyncv1.Entry, data []byte, offset int, sum []byte) []*dirsyncv1.UploadRequest {
	reqs := literalUpload(entry, data[min(offset, len(data)):])
	reqs[0].Header.Resume = &dirsyncv1.ResumeFrom{Offset: int64(offset), Sha256: sum}
	return reqs
}

func TestUploadResume(t *testing.T) {
	const size, cut = 3 << 20, 2 << 20
	data := randomBytes(size, 41)
	old := []byte("the old version")
	prefixSum := sha256.Sum256(data[:cut])
	otherSum := sha256.Sum256(data[1:cut])
	tests := []struct {
		name string
		// prepare runs between the cut and the resumed upload.
		prepare    func(t *testing.T, env *testEnv)
		offset     int
		sum        []byte
		wantCode   connect.Code
		wantResume int64
	}{
		{"resumes after the kept bytes", nil, cut, prefixSum[:], 0, cut},
		{"resumes from part of the kept bytes", nil, cut / 2, func() []byte { s := sha256.Sum256(data[:cut/2]); return s[:] }(), 0, cut / 2},
		{"other kept bytes", nil, cut, otherSum[:], connect.CodeAborted, 0},
		{"more than kept", nil, cut + 1, func() []byte { s := sha256.Sum256(data[:cut+1]); return s[:] }(), connect.CodeAborted, 0},
		{"past the file's size", nil, size + 1, prefixSum[:], connect.CodeInvalidArgument, 0},
		{"zero offset", nil, 0, prefixSum[:], connect.CodeInvalidArgument, 0},
		{"short sha256", nil, cut, prefixSum[:8], connect.CodeInvalidArgument, 0},
		{"kept bytes changed on disk", func(t *testing.T, env *testEnv) {
			p := filepath.Join(env.root, filepath.FromSlash(partialPath("d/big.bin")))
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte{data[100] ^ 0xff}, 100); err != nil {
				t.Fatal(err)
			}
		}, cut, prefixSum[:], connect.CodeAborted, 0},
		{"partial dropped by a whole upload", func(t *testing.T, env *testEnv) {
			e := fileEntry("d/big.bin", old, 0o644, time.Unix(1_600_000_000, 0))
			if r := env.uploadOne(t, literalUpload(e, old)...); r.GetCode() != 0 {
				t.Fatalf("whole upload: %s %s", codeName(r.GetCode()), r.GetMessage())
			}
		}, cut, prefixSum[:], connect.CodeAborted, 0},
		{"partial dropped by a delete", func(t *testing.T, env *testEnv) {
			env.applyChanges(t, &dirsyncv1.Change{Action: &dirsyncv1.Change_Delete{Delete: "d/big.bin"}})
		}, cut, prefixSum[:], connect.CodeAborted, 0},
		{"partial kept across a restart", func(t *testing.T, env *testEnv) {
			restartEnv(t, env)
		}, cut, prefixSum[:], 0, cut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, "", protocols[1])
			writeFile(t, env.root, "d/big.bin", old)
			restartEnv(t, env) // index the old version
			entry := fileEntry("d/big.bin", data, 0o640, time.Unix(1_700_000_000, 0))
			cutUpload(t, env, entry, data, cut)

			if got := readFile(t, env.root, "d/big.bin"); !bytes.Equal(got, old) {
				t.Fatalf("the cut upload changed the file at its final path")
			}
			if p := env.getPartial(t, "d/big.bin"); p.GetSize() != cut || !bytes.Equal(p.GetSha256(), prefixSum[:]) {
				t.Fatalf("GetPartial = %d bytes %x, want %d bytes %x", p.GetSize(), p.GetSha256(), cut, prefixSum)
			}
			entries, _, err := env.manifest(t)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 { // d and d/big.bin
				t.Errorf("manifest lists %d entries, want 2: %v", len(entries), entries)
			}
			if st := env.status(t); st.GetFiles() != 1 {
				t.Errorf("Status counts %d files, want 1", st.GetFiles())
			}
			if tt.prepare != nil {
				tt.prepare(t, env)
			}

			resps, err := env.upload(t, resumeUpload(entry, data, tt.offset, tt.sum)...)
			if err != nil || len(resps) != 1 {
				t.Fatalf("resumed upload: %d responses, %v", len(resps), err)
			}
			r := resps[0]
			if got := connect.Code(r.GetCode()); r.GetCode() != uint32(tt.wantCode) {
				t.Fatalf("resumed upload: code %v (%s), want %v", got, r.GetMessage(), tt.wantCode)
			}
			if tt.wantCode != 0 && tt.prepare == nil && !bytes.Equal(readFile(t, env.root, "d/big.bin"), old) {
				t.Errorf("a failed resume changed the file at its final path")
			}
			switch tt.wantCode {
			case connect.CodeInvalidArgument: // a bad header claims nothing
				if p := env.getPartial(t, "d/big.bin"); p.GetSize() != cut {
					t.Errorf("after a bad header GetPartial = %d bytes, want %d", p.GetSize(), cut)
				}
				return
			case connect.CodeAborted: // claimed or gone; the client sends the file whole
				assertNoTempFiles(t, env.root)
				if p := env.getPartial(t, "d/big.bin"); p.GetSize() != 0 {
					t.Errorf("a failed resume left a %d-byte partial", p.GetSize())
				}
				return
			}
			if r.GetResumedBytes() != tt.wantResume || r.GetLiteralBytes() != size-int64(tt.offset) {
				t.Errorf("resumed %d literal %d, want %d and %d", r.GetResumedBytes(), r.GetLiteralBytes(), tt.wantResume, size-tt.offset)
			}
			if got := readFile(t, env.root, "d/big.bin"); !bytes.Equal(got, data) {
				t.Errorf("resumed file differs from the upload")
			}
			assertNoTempFiles(t, env.root)
		})
	}
}

// restartEnv replaces env's server by a new one over the same root, as a
// restart of the process would.
func restartEnv(t *testing.T, env *testEnv) {
	t.Helper()
	env.srv.Close()
	fresh := newEnv(t, env.root, protocols[1])
	*env = *fresh
}

func TestPartialNotKept(t *testing.T) {
	tests := []struct {
		name string
		size int
		cut  int
	}{
		{"below the minimum", 2 * partialMinBytes, partialMinBytes - 1},
		{"nothing written", 2 * partialMinBytes, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, "", protocols[1])
			data := randomBytes(tt.size, 43)
			entry := fileEntry("small.bin", data, 0o644, time.Now())
			cutUpload(t, env, entry, data, tt.cut)
			assertNoTempFiles(t, env.root)
			if p := env.getPartial(t, "small.bin"); p.GetSize() != 0 {
				t.Errorf("GetPartial = %d bytes, want none", p.GetSize())
			}
		})
	}
}

func TestStalePartialRemovedAtStart(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	data := randomBytes(partialMinBytes+10, 44)
	cutUpload(t, env, fileEntry("x.bin", data, 0o644, time.Now()), data, partialMinBytes+5)
	p := filepath.Join(env.root, filepath.FromSlash(partialPath("x.bin")))
	old := time.Now().Add(-partialMaxAge - time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	restartEnv(t, env)
	assertNoTempFiles(t, env.root)
	if got := env.getPartial(t, "x.bin"); got.GetSize() != 0 {
		t.Errorf("GetPartial after restart = %d bytes, want none", got.GetSize())
	}
}

func TestGetPartialRefusesBadPaths(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	for _, rel := range []string{"", "../x", "/abs", ".dirsync-tmp-partial-00"} {
		_, err := env.client.GetPartial(testCtx(t), connect.NewRequest(&dirsyncv1.GetPartialRequest{Path: rel}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("GetPartial(%q) = %v, want InvalidArgument", rel, err)
		}
	}
}
