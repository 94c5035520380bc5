package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tokens of the two tenants of the tests below.
const (
	tokenA = "e2e-token-of-tenant-a-7c1f09d2"
	tokenB = "e2e-token-of-tenant-b-5e88a4b0"
)

// tenantSetup is a tenants file for two tenants, a and b, with token
// files, and b also named by the client certificate "builder-b".
type tenantSetup struct {
	dir            string // holds the config, tokens and certificates
	config         string
	rootA, rootB   string
	tokenA, tokenB string // token file paths
}

func newTenantSetup(t *testing.T) *tenantSetup {
	t.Helper()
	s := &tenantSetup{dir: t.TempDir(), rootA: t.TempDir(), rootB: t.TempDir()}
	s.tokenA = writeSecret(t, s.dir, "a.token", tokenA+"\n")
	s.tokenB = writeSecret(t, s.dir, "b.token", tokenB+"\n")
	s.config = writeSecret(t, s.dir, "tenants.toml", fmt.Sprintf(`
[[tenant]]
name = "a"
root = %q
token_file = "a.token"

[[tenant]]
name = "b"
root = %q
token_file = "b.token"
client_cert_cn = ["builder-b"]
`, s.rootA, s.rootB))
	return s
}

// writeSecret writes content to dir/name, readable by its owner only, and
// returns its path.
func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServerArgs starts dirsync-server with exactly args plus a free
// loopback port, and waits until it says where it listens.
func startServerArgs(t *testing.T, args ...string) *server {
	t.Helper()
	p := startProcess(t, "dirsync-server", append([]string{"--listen", "127.0.0.1:0", "--log-level", "debug"}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrPattern.FindStringSubmatch(p.output.String()); m != nil {
			return &server{process: p, addr: m[1]}
		}
		select {
		case <-p.done:
			t.Fatalf("dirsync-server exited early: %v\n%s", p.err, p.output.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("dirsync-server never reported its address:\n%s", p.output.String())
	return nil
}

// runClient runs dirsync-client with args and env added to the
// environment, and returns its exit code and output.
func runClient(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "dirsync-client"), args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "DIRSYNC_TOKEN=", "DIRSYNC_TOKEN_FILE="), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run dirsync-client: %v", err)
	return 0, ""
}

// exitAuth is the client's documented exit code for refused credentials.
const exitAuth = 4

// assertNoToken fails if a token appears in any of outputs.
func assertNoToken(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, tok := range []string{tokenA, tokenB} {
			if strings.Contains(out, tok) {
				t.Errorf("a token appears in the output:\n%s", out)
			}
		}
	}
}

func TestTenantsEndToEnd(t *testing.T) {
	setup := newTenantSetup(t)
	srv := startServerArgs(t, "--config", setup.config)
	src := t.TempDir()
	writeFile(t, src, "hello.txt", []byte("hello, tenant a\n"), 0o644)
	writeFile(t, src, "sub/data.bin", make([]byte, 100_000), 0o600)
	once := func(env []string, extra ...string) (int, string) {
		return runClient(t, env, append([]string{"--dir", src, "--server", srv.url(), "--once"}, extra...)...)
	}
	var outputs []string

	cases := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
	}{
		{"no token", nil, nil, exitAuth},
		{"wrong token", []string{"DIRSYNC_TOKEN=e2e-wrong-token-00000000000"}, nil, exitAuth},
		{"token and token file", nil, []string{"--token", "x", "--token-file", setup.tokenA}, 2},
		{"token file of a", nil, []string{"--token-file", setup.tokenA}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := once(tc.env, tc.args...)
			outputs = append(outputs, out)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d:\n%s", code, tc.wantCode, out)
			}
		})
	}
	requireMirror(t, src, setup.rootA)
	if d := diffTrees(t.TempDir(), setup.rootB); d != "" {
		t.Errorf("tenant b's tree changed:\n%s", d)
	}

	// Tenant b, token from the environment: its tree, not a's.
	srcB := t.TempDir()
	writeFile(t, srcB, "b-only.txt", []byte("tenant b\n"), 0o644)
	code, out := runClient(t, []string{"DIRSYNC_TOKEN=" + tokenB}, "--dir", srcB, "--server", srv.url(), "--once")
	outputs = append(outputs, out)
	if code != 0 {
		t.Fatalf("sync as b: exit %d:\n%s", code, out)
	}
	requireMirror(t, srcB, setup.rootB)
	requireMirror(t, src, setup.rootA)

	// Watch mode gives up on a refused token instead of retrying forever.
	w := startProcess(t, "dirsync-client", "--dir", src, "--server", srv.url(), "--token-file", setup.tokenB+".missing")
	<-w.done
	var exit *exec.ExitError
	if !errors.As(w.err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("watch with a missing token file: %v, want exit 2", w.err)
	}
	writeSecret(t, setup.dir, "wrong.token", "e2e-wrong-token-11111111111\n")
	w = startProcess(t, "dirsync-client", "--dir", src, "--server", srv.url(), "--token-file", filepath.Join(setup.dir, "wrong.token"))
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("watch mode kept running with a wrong token:\n%s", w.output.String())
	}
	if !errors.As(w.err, &exit) || exit.ExitCode() != exitAuth {
		t.Errorf("watch with a wrong token: %v, want exit %d\n%s", w.err, exitAuth, w.output.String())
	}
	outputs = append(outputs, w.output.String())

	srv.stop(t)
	assertNoToken(t, append(outputs, srv.output.String())...)
}

func TestConfigAndRootExclusive(t *testing.T) {
	setup := newTenantSetup(t)
	cmd := exec.Command(filepath.Join(binDir, "dirsync-server"), "--config", setup.config, "--root", t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "--config") {
		t.Errorf("--root with --config: %v\n%s", err, out)
	}
}

func TestTLSEndToEnd(t *testing.T) {
	setup := newTenantSetup(t)
	pki := newTestPKI(t, setup.dir)
	srv := startServerArgs(t, "--config", setup.config,
		"--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--client-ca", pki.ca)
	url := "https://" + srv.addr
	src := t.TempDir()
	writeFile(t, src, "secret/plan.txt", []byte("over TLS\n"), 0o644)
	var outputs []string

	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"system roots only", []string{"--token-file", setup.tokenA}, exitAuth, "certificate signed by unknown authority"},
		{"CA and token", []string{"--ca", pki.ca, "--token-file", setup.tokenA}, 0, ""},
		{"CA and client certificate", []string{"--ca", pki.ca, "--cert", pki.clientCert, "--key", pki.clientKey}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--dir", src, "--server", url, "--once"}, tc.args...)
			code, out := runClient(t, nil, args...)
			outputs = append(outputs, out)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Fatalf("exit code %d, want %d with %q in:\n%s", code, tc.wantCode, tc.wantOut, out)
			}
		})
	}
	// The token named tenant a, the client certificate tenant b.
	requireMirror(t, src, setup.rootA)
	requireMirror(t, src, setup.rootB)
	srv.stop(t)
	assertNoToken(t, append(outputs, srv.output.String())...)
}

// testPKI holds the PEM files of a throwaway CA, a server certificate for
// 127.0.0.1 and a client certificate with the common name "builder-b".
type testPKI struct {
	ca                    string
	serverCert, serverKey string
	clientCert, clientKey string
}

// newTestPKI writes a fresh ECDSA P-256 PKI under dir.
func newTestPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dirsync e2e CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, serial int64, tmpl *x509.Certificate) (string, string) {
		key := newKey(t)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".crt", "CERTIFICATE", der), writePEM(t, dir, name+".key", "PRIVATE KEY", keyDER)
	}
	p := &testPKI{ca: writePEM(t, dir, "ca.crt", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = issue("server", 2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	p.clientCert, p.clientKey = issue("client", 3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "builder-b"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// writePEM writes one PEM block to dir/name and returns its path.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	return writeSecret(t, dir, name, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
}
