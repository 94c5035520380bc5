package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// assertOnly fails unless the root directory holds exactly the entries
// names: no temporary file, nothing else.
func assertOnly(t *testing.T, root string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("root holds %q, want %q", got, names)
	}
}

// assertSettled fails if a path lock or a temporary space reservation is
// left over.
func assertSettled(t *testing.T, env *testEnv) {
	t.Helper()
	if n := env.srv.locks.size(); n != 0 {
		t.Errorf("%d path locks left", n)
	}
	if n := env.srv.temp.inUse(); n != 0 {
		t.Errorf("%d bytes of temporary space still reserved", n)
	}
}

// TestHostileDeltas sends malformed and stale deltas against a file. Each
// gets a clear error, the old file stays intact byte for byte and no
// temporary file is left behind.
func TestHostileDeltas(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	old := randomBytes(3*1024+100, 1) // blocks 0-3 of 1 KiB, the last short
	edited := bytes.Clone(old)
	copy(edited[1500:], "EDITED")
	sumOld := sha256.Sum256(old)
	target := fileEntry("f", edited, 0o644, mtime)

	// delta returns an upload of target against old with the given ops.
	delta := func(blockSize uint32, ops ...*dirsyncv1.DeltaOp) []*dirsyncv1.UploadRequest {
		return []*dirsyncv1.UploadRequest{{
			Header: &dirsyncv1.UploadHeader{Entry: target, Base: &dirsyncv1.DeltaBase{Sha256: sumOld[:], BlockSize: blockSize}},
			Ops:    ops,
			Finish: true,
		}}
	}
	cases := []struct {
		name string
		reqs func(t *testing.T, env *testEnv) []*dirsyncv1.UploadRequest
		code connect.Code
		// mention is a part of the message that names the problem.
		mention string
	}{
		{"block index past the end", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(4, 1))
		}, connect.CodeInvalidArgument, "out of range"},
		{"run past the end", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(3, 2))
		}, connect.CodeInvalidArgument, "out of range"},
		{"start plus count overflows", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(1, math.MaxInt64))
		}, connect.CodeInvalidArgument, "overflows"},
		{"start above MaxInt64", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(1<<63, 1))
		}, connect.CodeInvalidArgument, "out of range"},
		{"count above MaxInt64", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(0, math.MaxUint64))
		}, connect.CodeInvalidArgument, "out of range"},
		{"zero count", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(0, 0))
		}, connect.CodeInvalidArgument, "invalid op"},
		{"empty op", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, &dirsyncv1.DeltaOp{})
		}, connect.CodeInvalidArgument, "neither copy nor literal"},
		{"empty literal", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, &dirsyncv1.DeltaOp{Op: &dirsyncv1.DeltaOp_Literal{}})
		}, connect.CodeInvalidArgument, "invalid op"},
		{"block size too small", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1, copyOp(0, 1))
		}, connect.CodeInvalidArgument, "invalid signature"},
		{"block size too large", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(math.MaxUint32, copyOp(0, 1))
		}, connect.CodeInvalidArgument, "invalid signature"},
		{"copy without a base", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return []*dirsyncv1.UploadRequest{{Header: &dirsyncv1.UploadHeader{Entry: target}, Ops: []*dirsyncv1.DeltaOp{copyOp(0, 1)}, Finish: true}}
		}, connect.CodeInvalidArgument, "out of range"},
		{"base sha256 of the wrong length", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			reqs := delta(1024, copyOp(0, 1))
			reqs[0].Header.Base.Sha256 = sumOld[:31]
			return reqs
		}, connect.CodeInvalidArgument, "base sha256 of 31 bytes"},
		{"wrong final hash", func(t *testing.T, _ *testEnv) []*dirsyncv1.UploadRequest {
			req, _ := deltaUpload(t, target, old, edited, 1024)
			req.Header.Entry = fileEntry("f", edited, 0o644, mtime)
			req.Header.Entry.Sha256 = sumOld[:]
			return []*dirsyncv1.UploadRequest{req}
		}, connect.CodeAborted, "checksum mismatch"},
		{"fewer bytes than declared", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(0, 1))
		}, connect.CodeInvalidArgument, "header declares"},
		{"zeros of count zero", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, zerosOp(0))
		}, connect.CodeInvalidArgument, "invalid op"},
		{"zeros above MaxInt64", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, zerosOp(math.MaxUint64))
		}, connect.CodeInvalidArgument, "out of range"},
		{"more zeros than declared", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(0, 1), zerosOp(uint64(len(edited))))
		}, connect.CodeInvalidArgument, "header declares"},
		{"more bytes than declared", func(*testing.T, *testEnv) []*dirsyncv1.UploadRequest {
			return delta(1024, copyOp(0, 4), literalOp(edited))
		}, connect.CodeInvalidArgument, "header declares"},
		{"base changed meanwhile", func(t *testing.T, env *testEnv) []*dirsyncv1.UploadRequest {
			// Sign the server's copy as a client would, then let another
			// writer replace it before the delta arrives.
			if err := env.signature(t, "f"); err != nil {
				t.Fatal(err)
			}
			req, _ := deltaUpload(t, target, old, edited, 1024)
			writeFile(t, env.root, "f", old[:2000])
			return []*dirsyncv1.UploadRequest{req}
		}, connect.CodeAborted, "base changed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachProtocol(t, func(t *testing.T, env *testEnv) {
				writeFile(t, env.root, "f", old)
				reqs := tc.reqs(t, env)
				want := readFile(t, env.root, "f") // the file as it is before the upload
				resp := env.uploadOne(t, reqs...)
				if got := connect.Code(resp.GetCode()); got != tc.code {
					t.Errorf("code %s, want %s (%s)", codeName(resp.GetCode()), codeName(uint32(tc.code)), resp.GetMessage())
				}
				if msg := resp.GetMessage(); !strings.Contains(msg, tc.mention) || !strings.Contains(msg, `"f"`) {
					t.Errorf("message %q does not name the file and %q", msg, tc.mention)
				}
				if got := readFile(t, env.root, "f"); !bytes.Equal(got, want) {
					t.Errorf("f changed after a refused delta")
				}
				assertOnly(t, env.root, "f")
				assertSettled(t, env)
			})
		})
	}
}

// TestUploadCutMidFile cancels an Upload stream in the middle of a file:
// the server abandons the file, removes its temporary file and keeps the
// old one.
func TestUploadCutMidFile(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		old := randomBytes(5000, 1)
		writeFile(t, env.root, "f", old)
		data := randomBytes(600<<10, 2)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stream := env.client.Upload(ctx)
		reqs := literalUpload(fileEntry("f", data, 0o644, time.Now()), data)
		for _, r := range reqs[:len(reqs)-2] { // the header and some literals, no finish
			if err := stream.Send(r); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the upload's temporary file", func() bool {
			ents, _ := os.ReadDir(env.root)
			return len(ents) == 2
		})
		cancel()
		stream.CloseResponse()
		waitFor(t, "the server to abandon the file", func() bool {
			ents, _ := os.ReadDir(env.root)
			return len(ents) == 1 && env.srv.locks.size() == 0 && env.srv.temp.inUse() == 0 && env.srv.streams.n.Load() == 0
		})
		if got := readFile(t, env.root, "f"); !bytes.Equal(got, old) {
			t.Errorf("f changed after a cut upload")
		}
		assertOnly(t, env.root, "f")
		// The server goes on serving.
		if r := env.uploadOne(t, literalUpload(fileEntry("f", data, 0o644, time.Now()), data)...); r.GetCode() != 0 {
			t.Errorf("upload after the cut: %s", r.GetMessage())
		}
	})
}
