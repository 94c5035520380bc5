package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dirsyncv1 "github.com/dirsync/dirsync/gen/dirsync/v1"
	"github.com/dirsync/dirsync/gen/dirsync/v1/dirsyncv1connect"
)

// Tokens of the tenants of newTenantEnv.
const (
	tokenA  = "token-of-tenant-a-0123456789"
	tokenB  = "token-of-tenant-b-0123456789"
	tokenRO = "token-of-tenant-ro-012345678"
)

// tenantEnv is a Router over three tenants, a (also named by the client
// certificate "builder-a"), b and the read-only ro, served over HTTP/2
// with TLS.
type tenantEnv struct {
	roots map[string]string
	hs    *httptest.Server
}

// newTenantEnv starts a tenantEnv. With clientCAs, the TLS server
// verifies client certificates signed by them, if given.
func newTenantEnv(t *testing.T, clientCAs *x509.CertPool) *tenantEnv {
	t.Helper()
	env := &tenantEnv{roots: map[string]string{}}
	for _, name := range []string{"a", "b", "ro"} {
		env.roots[name] = t.TempDir()
	}
	writeFile(t, env.roots["a"], "only-a.txt", []byte("tree a"))
	writeFile(t, env.roots["b"], "only-b.txt", []byte("tree b, secret"))
	writeFile(t, env.roots["b"], "shared/x.txt", randomBytes(5000, 3))
	writeFile(t, env.roots["ro"], "ro.txt", randomBytes(5000, 4))
	cfg := Config{Tenants: []Tenant{
		{Name: "a", Root: env.roots["a"], TokenHashes: hashes(tokenA), ClientCertCNs: []string{"builder-a"}},
		{Name: "b", Root: env.roots["b"], TokenHashes: hashes(tokenB)},
		{Name: "ro", Root: env.roots["ro"], TokenHashes: hashes(tokenRO), ReadOnly: true},
	}}
	r, err := NewRouter(cfg, Options{})
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	env.hs = httptest.NewUnstartedServer(r.Handler())
	env.hs.EnableHTTP2 = true
	if clientCAs != nil {
		env.hs.TLS = &tls.Config{ClientCAs: clientCAs, ClientAuth: tls.VerifyClientCertIfGiven}
	}
	env.hs.StartTLS()
	t.Cleanup(env.hs.Close)
	return env
}

// hashes returns the SHA-256 hashes of tokens.
func hashes(tokens ...string) [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for _, tok := range tokens {
		out = append(out, sha256.Sum256([]byte(tok)))
	}
	return out
}

// client returns a client speaking p that sends authorization (no header
// if "") and presents certs as its TLS client certificates.
func (env *tenantEnv) client(t *testing.T, p protocol, authorization string, certs ...tls.Certificate) *testEnv {
	t.Helper()
	tr := env.hs.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = certs
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: &headerTransport{base: tr, authorization: authorization}}
	return &testEnv{client: dirsyncv1connect.NewSyncServiceClient(hc, env.hs.URL, p.opts...)}
}

// headerTransport sets the authorization header on every request.
type headerTransport struct {
	base          http.RoundTripper
	authorization string
}

// RoundTrip sets the header on a copy of req and sends it.
func (h *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.authorization != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", h.authorization)
	}
	return h.base.RoundTrip(req)
}

// callAll calls every RPC once, the writes on paths of their own, and
// returns each one's error by RPC name.
func callAll(t *testing.T, c *testEnv) map[string]error {
	t.Helper()
	ctx := testCtx(t)
	errs := map[string]error{}
	_, errs["Status"] = c.client.Status(ctx, connect.NewRequest(&dirsyncv1.StatusRequest{}))
	_, _, errs["GetManifest"] = c.manifest(t)
	errs["GetSignature"] = drainSignature(ctx, c.client, "only-a.txt")
	_, errs["ApplyChanges"] = c.client.ApplyChanges(ctx, connect.NewRequest(&dirsyncv1.ApplyChangesRequest{
		Changes: []*dirsyncv1.Change{mkdirChange("made-by-apply", 0o755)}}))
	data := []byte("uploaded")
	resps, err := c.upload(t, literalUpload(fileEntry("uploaded.txt", data, 0o644, time.Now()), data)...)
	if err == nil && (len(resps) != 1 || resps[0].GetCode() != 0) {
		err = errors.New("upload not acknowledged")
	}
	errs["Upload"] = err
	return errs
}

// drainSignature reads the whole GetSignature stream of rel.
func drainSignature(ctx context.Context, c dirsyncv1connect.SyncServiceClient, rel string) error {
	stream, err := c.GetSignature(ctx, connect.NewRequest(&dirsyncv1.GetSignatureRequest{Path: rel}))
	if err != nil {
		return err
	}
	defer stream.Close()
	for stream.Receive() {
	}
	return stream.Err()
}

func TestAuthCodes(t *testing.T) {
	const ok = connect.Code(0)
	all := func(c connect.Code) map[string]connect.Code {
		return map[string]connect.Code{"Status": c, "GetManifest": c, "GetSignature": c, "ApplyChanges": c, "Upload": c}
	}
	cases := []struct {
		name          string
		authorization string
		want          map[string]connect.Code
	}{
		{"no token", "", all(connect.CodeUnauthenticated)},
		{"not bearer", "Basic " + tokenA, all(connect.CodeUnauthenticated)},
		{"empty bearer", "Bearer ", all(connect.CodeUnauthenticated)},
		{"wrong token", "Bearer not-a-token-of-anyone-at-all", all(connect.CodePermissionDenied)},
		{"token prefix", "Bearer " + tokenA[:len(tokenA)-1], all(connect.CodePermissionDenied)},
		{"right token", "Bearer " + tokenA, all(ok)},
		{"scheme in lower case", "bearer " + tokenA, all(ok)},
		{"read-only", "Bearer " + tokenRO, map[string]connect.Code{
			"Status": ok, "GetManifest": ok, "GetSignature": connect.CodeNotFound,
			"ApplyChanges": connect.CodePermissionDenied, "Upload": connect.CodePermissionDenied}},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					env := newTenantEnv(t, nil)
					errs := callAll(t, env.client(t, p, tc.authorization))
					for rpc, want := range tc.want {
						if got := connect.CodeOf(errs[rpc]); errs[rpc] == nil && want != ok || errs[rpc] != nil && got != want {
							t.Errorf("%s: error %v, want code %v", rpc, errs[rpc], want)
						}
					}
					if tc.want["Upload"] != ok {
						for name, root := range env.roots {
							if _, err := os.Stat(filepath.Join(root, "uploaded.txt")); err == nil {
								t.Errorf("refused upload landed in tenant %s", name)
							}
						}
					}
				})
			}
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	forEach := func(t *testing.T, f func(t *testing.T, env *tenantEnv, a *testEnv)) {
		for _, p := range protocols {
			t.Run(p.name, func(t *testing.T) {
				env := newTenantEnv(t, nil)
				f(t, env, env.client(t, p, "Bearer "+tokenA))
			})
		}
	}
	bBefore := func(env *tenantEnv) string { return env.roots["b"] }

	t.Run("Status", func(t *testing.T) {
		forEach(t, func(t *testing.T, env *tenantEnv, a *testEnv) {
			st := a.status(t)
			if st.GetRoot() != "a" || st.GetFiles() != 1 || st.GetDirectories() != 0 {
				t.Errorf("Status: root %q, %d files, %d directories; want a, 1, 0", st.GetRoot(), st.GetFiles(), st.GetDirectories())
			}
		})
	})
	t.Run("GetManifest", func(t *testing.T) {
		forEach(t, func(t *testing.T, env *tenantEnv, a *testEnv) {
			entries, _, err := a.manifest(t)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, e := range entries {
				paths = append(paths, e.GetPath())
			}
			if !slices.Equal(paths, []string{"only-a.txt"}) {
				t.Errorf("manifest of a: %q, want [only-a.txt]", paths)
			}
			entries, _, err = a.manifest(t, "shared")
			if len(entries) != 0 {
				t.Errorf("manifest of b's subtree through a: %d entries (err %v)", len(entries), err)
			}
		})
	})
	t.Run("GetSignature", func(t *testing.T) {
		forEach(t, func(t *testing.T, env *tenantEnv, a *testEnv) {
			for _, rel := range []string{"only-b.txt", "shared/x.txt", "../" + filepath.Base(bBefore(env)) + "/only-b.txt"} {
				err := drainSignature(testCtx(t), a.client, rel)
				if c := connect.CodeOf(err); c != connect.CodeNotFound && c != connect.CodeInvalidArgument {
					t.Errorf("GetSignature(%q) through a: %v, want NotFound or InvalidArgument", rel, err)
				}
			}
		})
	})
	t.Run("ApplyChanges", func(t *testing.T) {
		forEach(t, func(t *testing.T, env *tenantEnv, a *testEnv) {
			sumB := sha256.Sum256(readFile(t, env.roots["b"], "shared/x.txt"))
			e := fileEntry("copied.txt", readFile(t, env.roots["b"], "shared/x.txt"), 0o644, time.Now())
			e.Sha256 = sumB[:]
			results := a.applyChanges(t,
				deleteChange("only-b.txt"),
				deleteChange("shared"),
				copyChange(e))
			if c := results[2].GetCode(); c != uint32(connect.CodeNotFound) {
				t.Errorf("copy of b's content through a: code %s, want not_found", codeName(c))
			}
			if _, err := os.Stat(filepath.Join(env.roots["a"], "copied.txt")); err == nil {
				t.Error("a made a file from b's content")
			}
			readFile(t, env.roots["b"], "only-b.txt")
			readFile(t, env.roots["b"], "shared/x.txt")
		})
	})
	t.Run("Upload", func(t *testing.T) {
		forEach(t, func(t *testing.T, env *tenantEnv, a *testEnv) {
			data := []byte("written by a")
			resp := a.uploadOne(t, literalUpload(fileEntry("only-b.txt", data, 0o644, time.Now()), data)...)
			if resp.GetCode() != 0 {
				t.Fatalf("upload: %s %s", codeName(resp.GetCode()), resp.GetMessage())
			}
			if got := string(readFile(t, env.roots["a"], "only-b.txt")); got != string(data) {
				t.Errorf("a's copy holds %q", got)
			}
			if got := string(readFile(t, env.roots["b"], "only-b.txt")); got != "tree b, secret" {
				t.Errorf("b's file changed to %q", got)
			}
		})
	})
}

func TestReadOnlyTenantTreeUnchanged(t *testing.T) {
	env := newTenantEnv(t, nil)
	ro := env.client(t, protocols[1], "Bearer "+tokenRO)
	before := readFile(t, env.roots["ro"], "ro.txt")
	if err := drainSignature(testCtx(t), ro.client, "ro.txt"); err != nil {
		t.Fatalf("GetSignature: %v", err)
	}
	_, err := ro.client.ApplyChanges(testCtx(t), connect.NewRequest(&dirsyncv1.ApplyChangesRequest{
		Changes: []*dirsyncv1.Change{deleteChange("ro.txt")}}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("delete: %v, want PermissionDenied", err)
	}
	if got := readFile(t, env.roots["ro"], "ro.txt"); string(got) != string(before) {
		t.Error("read-only tree changed")
	}
}

func TestRouterHealthAndReflectionWithoutToken(t *testing.T) {
	assertHealthAndReflection(t, newTenantEnv(t, nil).hs)
}

func TestClientCertNamesTenant(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	cases := []struct {
		name          string
		certs         []tls.Certificate
		authorization string
		wantCode      connect.Code
		wantRoot      string
	}{
		{"known name", []tls.Certificate{ca.issue(t, "builder-a", true)}, "", 0, "a"},
		{"unknown name", []tls.Certificate{ca.issue(t, "stranger", true)}, "", connect.CodePermissionDenied, ""},
		{"token wins over certificate", []tls.Certificate{ca.issue(t, "builder-a", true)}, "Bearer " + tokenB, 0, "b"},
		{"no certificate, no token", nil, "", connect.CodeUnauthenticated, ""},
	}
	env := newTenantEnv(t, ca.pool)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.client(t, protocols[1], tc.authorization, tc.certs...)
			resp, err := c.client.Status(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{}))
			switch {
			case tc.wantCode != 0:
				if connect.CodeOf(err) != tc.wantCode {
					t.Errorf("Status: %v, want %v", err, tc.wantCode)
				}
			case err != nil:
				t.Errorf("Status: %v", err)
			case resp.Msg.GetRoot() != tc.wantRoot:
				t.Errorf("Status root %q, want %q", resp.Msg.GetRoot(), tc.wantRoot)
			}
		})
	}
	t.Run("certificate of another CA", func(t *testing.T) {
		c := env.client(t, protocols[1], "", other.issue(t, "builder-a", true))
		_, err := c.client.Status(testCtx(t), connect.NewRequest(&dirsyncv1.StatusRequest{}))
		if err == nil {
			t.Error("a certificate from an unknown CA was accepted")
		}
	})
}

// TestAuthFailureLogsNoToken checks that a refused token is not logged.
func TestAuthFailureLogsNoToken(t *testing.T) {
	var logs bytes.Buffer
	a := newAuthenticator(nil, slog.New(slog.NewTextHandler(&logs, nil)))
	h := http.Header{"Authorization": []string{"Bearer some-secret-token-value"}}
	_, err := a.authenticate(context.Background(), h, dirsyncv1connect.SyncServiceStatusProcedure, "192.0.2.1:1234")
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("authenticate: %v, want PermissionDenied", err)
	}
	if out := logs.String(); !strings.Contains(out, "request refused") || strings.Contains(out, "some-secret") {
		t.Errorf("log: %q", out)
	}
}
