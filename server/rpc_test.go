package server

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/dirsync/dirsync/engine"
	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

func TestGetManifest(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, env *testEnv) {
		files := map[string][]byte{"b/x": []byte("bx"), "a": []byte("a"), "b-c": []byte("bc"), "b/y/z": []byte("byz")}
		for rel, data := range files {
			writeFile(t, env.root, rel, data)
		}
		if err := os.Symlink("a", filepath.Join(env.root, "link")); err != nil {
			t.Fatal(err)
		}
		// Written behind the server's back, after its index was built.
		writeFile(t, env.root, "late", []byte("late"))
		files["late"] = []byte("late")

		entries, _, err := env.manifest(t)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.GetPath())
			if data, ok := files[e.GetPath()]; ok {
				sum := sha256.Sum256(data)
				if e.GetType() != dirsyncv1.EntryType_ENTRY_TYPE_FILE || !bytes.Equal(e.GetSha256(), sum[:]) || e.GetSize() != int64(len(data)) {
					t.Errorf("%s: type %v size %d sha256 %x", e.GetPath(), e.GetType(), e.GetSize(), e.GetSha256())
				}
			}
		}
		want := []string{"a", "b", "b/x", "b/y", "b/y/z", "b-c", "late", "link"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("paths = %q, want %q", got, want)
		}

		entries, _, err = env.manifest(t, "b/y", "b", "nope")
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range entries {
			got = append(got, e.GetPath())
		}
		if want := []string{"b", "b/x", "b/y", "b/y/z"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("scoped paths = %q, want %q", got, want)
		}
	})
}

func TestGetManifestBatches(t *testing.T) {
	env := newEnv(t, "", protocols[1])
	for i := range 2500 {
		writeFile(t, env.root, fmt.Sprintf("d/%04d", i), []byte{byte(i)})
	}
	entries, batches, err := env.manifest(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2501 || batches != 3 {
		t.Errorf("%d entries in %d batches, want 2501 in 3", len(entries), batches)
	}
}

func TestGetSignature(t *testing.T) {
	data := randomBytes(3*1024+100, 9)
	sum := sha256.Sum256(data)
	cases := []struct {
		name      string
		path      string
		blockSize uint32
		code      connect.Code
		blocks    int
	}{
		{"three blocks and a tail", "f", 1024, 0, 4},
		{"adaptive", "f", 0, 0, -1},
		{"block size too small", "f", engine.MinBlockSize - 1, connect.CodeInvalidArgument, 0},
		{"block size too large", "f", engine.MaxBlockSize + 1, connect.CodeInvalidArgument, 0},
		{"missing", "nope", 0, connect.CodeNotFound, 0},
		{"directory", "d", 0, connect.CodeFailedPrecondition, 0},
		{"symlink", "l", 0, connect.CodeFailedPrecondition, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEachProtocol(t, func(t *testing.T, env *testEnv) {
				writeFile(t, env.root, "f", data)
				os.Mkdir(filepath.Join(env.root, "d"), 0o755)
				os.Symlink("f", filepath.Join(env.root, "l"))
				stream, err := env.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{Path: tc.path, BlockSize: tc.blockSize}))
				if err != nil {
					t.Fatal(err)
				}
				defer stream.Close()
				var (
					hdr    *dirsyncv1.SignatureHeader
					weak   []uint32
					strong []byte
				)
				for stream.Receive() {
					if h := stream.Msg().GetHeader(); h != nil {
						hdr = h
					}
					weak = append(weak, stream.Msg().GetWeak()...)
					strong = append(strong, stream.Msg().GetStrong()...)
				}
				if got := connect.CodeOf(stream.Err()); stream.Err() != nil && got != tc.code || stream.Err() == nil && tc.code != 0 {
					t.Fatalf("code %v (%v), want %v", got, stream.Err(), tc.code)
				}
				if tc.code != 0 {
					return
				}
				if hdr == nil {
					t.Fatal("no header")
				}
				if hdr.GetFileSize() != int64(len(data)) || hdr.GetStrongSize() != engine.StrongSize || !bytes.Equal(hdr.GetSha256(), sum[:]) {
					t.Errorf("header = %v", hdr)
				}
				if tc.blockSize != 0 && hdr.GetBlockSize() != tc.blockSize {
					t.Errorf("block size %d, want %d", hdr.GetBlockSize(), tc.blockSize)
				}
				sig := &engine.Signature{BlockSize: int(hdr.GetBlockSize()), FileSize: hdr.GetFileSize(), Weak: weak, Strong: strong}
				if err := sig.Validate(); err != nil {
					t.Errorf("signature: %v", err)
				}
				if tc.blocks >= 0 && len(weak) != tc.blocks {
					t.Errorf("%d blocks, want %d", len(weak), tc.blocks)
				}
				want, _ := engine.Sign(bytes.NewReader(data), int64(len(data)), int(hdr.GetBlockSize()))
				if !bytes.Equal(strong, want.Strong) {
					t.Errorf("strong hashes differ from engine.Sign")
				}
			})
		})
	}
}

func TestGetSignatureChunks(t *testing.T) {
	env := newEnv(t, "", protocols[0])
	data := randomBytes((signatureChunkBlocks+10)*engine.MinBlockSize, 4)
	writeFile(t, env.root, "big", data)
	stream, err := env.client.GetSignature(testCtx(t), connect.NewRequest(&dirsyncv1.GetSignatureRequest{Path: "big", BlockSize: engine.MinBlockSize}))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for stream.Receive() {
		sizes = append(sizes, len(stream.Msg().GetWeak()))
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, signatureChunkBlocks, 10}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("blocks per message = %v, want %v", sizes, want)
	}
}

func TestStatus(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) { testStatus(t, p) })
	}
}

func testStatus(t *testing.T, p protocol) {
	root := t.TempDir()
	writeFile(t, root, "d/a", []byte("hello"))
	env := newEnv(t, root, p)
	before := env.status(t)
	if before.GetFiles() != 1 || before.GetDirectories() != 1 || before.GetTotalBytes() != 5 || before.GetUniqueContents() != 1 {
		t.Errorf("before: %v", before)
	}
	if before.GetLastChangeAt() != nil || before.GetRoot() != env.root || before.GetStartedAt() == nil {
		t.Errorf("before: %v", before)
	}

	data := randomBytes(2048, 5)
	env.uploadOne(t, literalUpload(fileEntry("b", data, 0o644, time.Now()), data)...)
	edited := bytes.Clone(data)
	edited[0]++
	req, _ := deltaUpload(t, fileEntry("b", edited, 0o644, time.Now()), data, edited, 512)
	env.uploadOne(t, req)
	env.applyChanges(t, copyChange(fileEntry("c", []byte("hello"), 0o644, time.Now())), symlinkChange("l", "b"), deleteChange("d"),
		copyChange(fileEntry("x", []byte("none"), 0o644, time.Now())), deleteChange("../outside"))

	after := env.status(t)
	checks := []struct {
		name      string
		got, want int64
	}{
		{"files", after.GetFiles(), 2},
		{"directories", after.GetDirectories(), 0},
		{"symlinks", after.GetSymlinks(), 1},
		{"total_bytes", after.GetTotalBytes(), 2048 + 5},
		{"unique_contents", after.GetUniqueContents(), 2},
		{"files_written", after.GetFilesWritten(), 3},
		{"entries_deleted", after.GetEntriesDeleted(), 1},
		{"literal_bytes", after.GetLiteralBytes(), 2048 + 512},
		{"delta_saved_bytes", after.GetDeltaSavedBytes(), 2048 - 512},
		{"dedup_saved_bytes", after.GetDedupSavedBytes(), 5},
		// A copy_content miss is a normal answer, not a failure; the bad path is.
		{"failures", after.GetFailures(), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if after.GetBytesReceived() < 2048+512 || after.GetLastChangeAt() == nil {
		t.Errorf("bytes_received %d, last_change_at %v", after.GetBytesReceived(), after.GetLastChangeAt())
	}
}

func TestHealthAndReflection(t *testing.T) {
	srv, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()
	assertHealthAndReflection(t, hs)
}

// assertHealthAndReflection checks that hs answers health checks and
// reflection requests, sent without credentials.
func assertHealthAndReflection(t *testing.T, hs *httptest.Server) {
	t.Helper()
	for _, service := range []string{"", dirsyncv1connect.SyncServiceName} {
		body := fmt.Sprintf(`{"service":%q}`, service)
		resp, err := hs.Client().Post(hs.URL+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(out), "SERVING") {
			t.Errorf("health of %q: %d %s", service, resp.StatusCode, out)
		}
	}

	// A bidi stream in the Connect protocol: one enveloped JSON message.
	msg := []byte(`{"listServices":""}`)
	env := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	for _, version := range []string{"v1", "v1alpha"} {
		url := hs.URL + "/grpc.reflection." + version + ".ServerReflection/ServerReflectionInfo"
		resp, err := hs.Client().Post(url, "application/connect+json", bytes.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, name := range []string{dirsyncv1connect.SyncServiceName, grpchealth.HealthV1ServiceName} {
			if !strings.Contains(string(out), name) {
				t.Errorf("reflection %s does not list %s: %s", version, name, out)
			}
		}
	}
}
