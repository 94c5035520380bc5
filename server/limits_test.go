package server

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline. It measures nothing: the deadline only keeps a broken test
// from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMaxFileBytes checks the limit on the size an upload declares, and
// that the bytes written can never pass the declared size.
func TestMaxFileBytes(t *testing.T) {
	mtime := time.Now()
	ten := []byte("0123456789")
	eleven := []byte("0123456789A")
	cases := []struct {
		name    string
		reqs    []*dirsyncv1.UploadRequest
		code    connect.Code
		mention string // the message must name the limit
	}{
		{"at the limit", literalUpload(fileEntry("f", ten, 0o644, mtime), ten), 0, ""},
		{"declared over the limit", literalUpload(fileEntry("f", eleven, 0o644, mtime), eleven), connect.CodeResourceExhausted, "--max-file-bytes"},
		{"written over the declared size", literalUpload(fileEntry("f", ten, 0o644, mtime), eleven), connect.CodeInvalidArgument, "10 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnvOpts(t, "", protocols[1], Options{MaxFileBytes: 10})
			writeFile(t, env.root, "f", []byte("old"))
			resp := env.uploadOne(t, tc.reqs...)
			if got := connect.Code(resp.GetCode()); got != tc.code {
				t.Fatalf("code %v, want %v (%s)", codeName(resp.GetCode()), codeName(uint32(tc.code)), resp.GetMessage())
			}
			if tc.code != 0 {
				if !strings.Contains(resp.GetMessage(), tc.mention) {
					t.Errorf("message %q does not name %q", resp.GetMessage(), tc.mention)
				}
				if got := readFile(t, env.root, "f"); string(got) != "old" {
					t.Errorf("f = %q after a refused upload, want old", got)
				}
			}
			assertNoTempFiles(t, env.root)
			if n := env.srv.temp.inUse(); n != 0 {
				t.Errorf("%d bytes of temporary space still reserved", n)
			}
		})
	}
}

// TestMaxTempBytes checks that uploads in flight reserve their declared
// size, that one over the budget is refused with ResourceExhausted while
// the others go on, and that a file larger than the budget still goes
// through alone.
func TestMaxTempBytes(t *testing.T) {
	env := newEnvOpts(t, "", protocols[1], Options{MaxTempBytes: 100})
	mtime := time.Now()
	held := randomBytes(80, 1)
	stream := env.client.Upload(testCtx(t))
	if err := stream.Send(&dirsyncv1.UploadRequest{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("held", held, 0o644, mtime)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held upload's reservation", func() bool { return env.srv.temp.inUse() == 80 })

	small := randomBytes(50, 2)
	resp := env.uploadOne(t, literalUpload(fileEntry("small", small, 0o644, mtime), small)...)
	if got := connect.Code(resp.GetCode()); got != connect.CodeResourceExhausted {
		t.Fatalf("upload over the budget: code %s, want ResourceExhausted (%s)", codeName(resp.GetCode()), resp.GetMessage())
	}
	if !strings.Contains(resp.GetMessage(), "--max-temp-bytes") {
		t.Errorf("message %q does not name --max-temp-bytes", resp.GetMessage())
	}
	tiny := randomBytes(20, 3)
	if resp := env.uploadOne(t, literalUpload(fileEntry("tiny", tiny, 0o644, mtime), tiny)...); resp.GetCode() != 0 {
		t.Errorf("upload within the budget: code %s (%s)", codeName(resp.GetCode()), resp.GetMessage())
	}

	if err := stream.Send(&dirsyncv1.UploadRequest{Ops: []*dirsyncv1.DeltaOp{literalOp(held)}, Finish: true}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Receive(); err != nil || resp.GetCode() != 0 {
		t.Fatalf("held upload: %v %s (%s)", err, codeName(resp.GetCode()), resp.GetMessage())
	}
	stream.CloseRequest()
	if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
		t.Errorf("end of held stream: %v", err)
	}
	stream.CloseResponse()

	big := randomBytes(300, 4)
	if resp := env.uploadOne(t, literalUpload(fileEntry("big", big, 0o644, mtime), big)...); resp.GetCode() != 0 {
		t.Errorf("file larger than the budget, alone: code %s (%s)", codeName(resp.GetCode()), resp.GetMessage())
	}
	if n := env.srv.temp.inUse(); n != 0 {
		t.Errorf("%d bytes of temporary space still reserved", n)
	}
	assertNoTempFiles(t, env.root)
}

// TestMaxUploadStreams checks that a stream beyond the cap is refused
// with ResourceExhausted while the others go on, and that the cap frees
// up when a stream ends.
func TestMaxUploadStreams(t *testing.T) {
	forEachProtocolOpts(t, Options{MaxUploadStreams: 1}, func(t *testing.T, env *testEnv) {
		mtime := time.Now()
		data := []byte("first")
		first := env.client.Upload(testCtx(t))
		if err := first.Send(&dirsyncv1.UploadRequest{Header: &dirsyncv1.UploadHeader{Entry: fileEntry("first", data, 0o644, mtime)}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first stream", func() bool { return env.srv.streams.n.Load() == 1 })

		_, err := env.upload(t, literalUpload(fileEntry("second", data, 0o644, mtime), data)...)
		if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
			t.Fatalf("second stream: %v (code %v), want ResourceExhausted", err, got)
		}
		var ce *connect.Error
		if errors.As(err, &ce) && !strings.Contains(ce.Message(), "--max-upload-streams") {
			t.Errorf("message %q does not name --max-upload-streams", ce.Message())
		}

		if err := first.Send(&dirsyncv1.UploadRequest{Ops: []*dirsyncv1.DeltaOp{literalOp(data)}, Finish: true}); err != nil {
			t.Fatal(err)
		}
		if resp, err := first.Receive(); err != nil || resp.GetCode() != 0 {
			t.Fatalf("first stream: %v %s", err, resp.GetMessage())
		}
		first.CloseRequest()
		first.Receive()
		first.CloseResponse()
		waitFor(t, "the first stream to end", func() bool { return env.srv.streams.n.Load() == 0 })
		if resp := env.uploadOne(t, literalUpload(fileEntry("third", data, 0o644, mtime), data)...); resp.GetCode() != 0 {
			t.Errorf("stream after the first ended: %s", resp.GetMessage())
		}
	})
}

// TestRequestLimits checks the fixed limits on what one request may hold.
func TestRequestLimits(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		scopes := make([]string, maxManifestScopes+1)
		for i := range scopes {
			scopes[i] = "x"
		}
		if _, _, err := env.manifest(t, scopes...); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("GetManifest with %d paths: %v, want InvalidArgument", len(scopes), err)
		}
		longTarget := strings.Repeat("t", maxLinkTarget+1)
		res := env.applyChanges(t, symlinkChange("l", longTarget), symlinkChange("ok", strings.Repeat("t", maxLinkTarget)))
		if got := connect.Code(res[0].GetCode()); got != connect.CodeInvalidArgument {
			t.Errorf("symlink target of %d bytes: code %v, want InvalidArgument", len(longTarget), got)
		}
		if res[1].GetCode() != 0 {
			t.Errorf("symlink target of %d bytes: %s", maxLinkTarget, res[1].GetMessage())
		}
		// Larger than the literal limit: refused by the patcher before it
		// writes, though the message is within the message limit.
		big := randomBytes(300<<10, 5)
		reqs := []*dirsyncv1.UploadRequest{{
			Header: &dirsyncv1.UploadHeader{Entry: fileEntry("big", big, 0o644, time.Now())},
			Ops:    []*dirsyncv1.DeltaOp{literalOp(big)},
			Finish: true,
		}}
		if resp := env.uploadOne(t, reqs...); connect.Code(resp.GetCode()) != connect.CodeInvalidArgument {
			t.Errorf("literal of %d bytes: code %s, want InvalidArgument", len(big), codeName(resp.GetCode()))
		}
		assertNoTempFiles(t, env.root)
	})
}

// TestMessageSizeLimit checks that a message over MaxMessageBytes is
// refused with ResourceExhausted and that the server goes on serving.
func TestMessageSizeLimit(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			env := newEnvOpts(t, "", p, Options{MaxMessageBytes: 64 << 10})
			data := randomBytes(100<<10, 6)
			reqs := []*dirsyncv1.UploadRequest{{
				Header: &dirsyncv1.UploadHeader{Entry: fileEntry("f", data, 0o644, time.Now())},
				Ops:    []*dirsyncv1.DeltaOp{literalOp(data)},
				Finish: true,
			}}
			// Compression would shrink random data only a little, so the
			// message stays over the limit after decompression too.
			if _, err := env.upload(t, reqs...); connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Errorf("oversize message: %v, want ResourceExhausted", err)
			}
			small := []byte("small")
			if resp := env.uploadOne(t, literalUpload(fileEntry("g", small, 0o644, time.Now()), small)...); resp.GetCode() != 0 {
				t.Errorf("upload after the oversize message: %s", resp.GetMessage())
			}
		})
	}
}
