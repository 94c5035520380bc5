package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	const token = "a-token-long-enough-0123456789"
	const envToken = "another-token-from-the-env-42"
	tokenFile := filepath.Join(dir, "web.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short.token"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("hashed-token-0123456789"))
	hash := hex.EncodeToString(sum[:])
	getenv := func(k string) string {
		if k == "CI_TOKEN" {
			return envToken
		}
		return ""
	}
	cases := []struct {
		name    string
		toml    string
		wantErr string // "" for a valid config
	}{
		{"valid", `
[[tenant]]
name = "web"
root = "web"
token_file = "web.token"
client_cert_cn = ["builder"]

[[tenant]]
name = "docs"
root = "/srv/docs"
token_sha256 = ["` + hash + `"]
read_only = true

[[tenant]]
name = "ci"
root = "ci"
token_env = "CI_TOKEN"
allow_setid = true
`, ""},
		{"no tenants", ``, "no [[tenant]]"},
		{"duplicate name", `
[[tenant]]
name = "web"
root = "a"
token_sha256 = ["` + hash + `"]
[[tenant]]
name = "web"
root = "b"
token_file = "web.token"
`, `tenant "web" defined twice`},
		{"root used twice", `
[[tenant]]
name = "a"
root = "same"
token_sha256 = ["` + hash + `"]
[[tenant]]
name = "b"
root = "./same/"
token_file = "web.token"
`, "overlap"},
		{"nested roots", `
[[tenant]]
name = "a"
root = "outer"
token_sha256 = ["` + hash + `"]
[[tenant]]
name = "b"
root = "outer/inner"
token_file = "web.token"
`, "overlap"},
		{"token shared", `
[[tenant]]
name = "a"
root = "a"
token_file = "web.token"
[[tenant]]
name = "b"
root = "b"
token_sha256 = ["` + hex.EncodeToString(sha256ToBytes(token)) + `"]
`, `tenants "a" and "b" share a token`},
		{"client cert name shared", `
[[tenant]]
name = "a"
root = "a"
client_cert_cn = ["builder"]
[[tenant]]
name = "b"
root = "b"
client_cert_cn = ["builder"]
`, `share client_cert_cn "builder"`},
		{"bad hex", `
[[tenant]]
name = "a"
root = "a"
token_sha256 = ["xyz` + hash[3:] + `"]
`, "want 64 hex digits"},
		{"short hash", `
[[tenant]]
name = "a"
root = "a"
token_sha256 = ["` + hash[:62] + `"]
`, "want 64 hex digits"},
		{"missing root", `
[[tenant]]
name = "a"
token_sha256 = ["` + hash + `"]
`, `tenant "a": no root`},
		{"no credentials", `
[[tenant]]
name = "a"
root = "a"
`, "no credentials"},
		{"bad name", `
[[tenant]]
name = "a/b"
root = "a"
token_sha256 = ["` + hash + `"]
`, `name "a/b"`},
		{"unknown key", `
[[tenant]]
name = "a"
root = "a"
tokens = ["x"]
token_sha256 = ["` + hash + `"]
`, "unknown keys: tenant.tokens"},
		{"missing token file", `
[[tenant]]
name = "a"
root = "a"
token_file = "nope.token"
`, "token_file"},
		{"short token", `
[[tenant]]
name = "a"
root = "a"
token_file = "short.token"
`, "shorter than"},
		{"unset token env", `
[[tenant]]
name = "a"
root = "a"
token_env = "UNSET_TOKEN"
`, "token_env UNSET_TOKEN: empty token"},
		{"not TOML", `[[tenant]`, "tenants.toml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "tenants.toml")
			if err := os.WriteFile(path, []byte(tc.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path, getenv)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				checkValidConfig(t, cfg, dir, token, envToken, sum)
				return
			}
			switch {
			case err == nil:
				t.Fatalf("LoadConfig: no error, want one containing %q", tc.wantErr)
			case !errors.Is(err, ErrInvalidConfig):
				t.Errorf("LoadConfig: %v does not wrap ErrInvalidConfig", err)
			case !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("LoadConfig: %v, want it to contain %q", err, tc.wantErr)
			}
			for _, secret := range []string{token, envToken, "short"} {
				if strings.Contains(err.Error(), secret) && !strings.Contains(tc.wantErr, secret) {
					t.Errorf("LoadConfig error %q reveals a token", err)
				}
			}
		})
	}
}

// checkValidConfig checks the config of the "valid" case of TestLoadConfig.
func checkValidConfig(t *testing.T, cfg Config, dir, token, envToken string, hashed [sha256.Size]byte) {
	t.Helper()
	if len(cfg.Tenants) != 3 {
		t.Fatalf("%d tenants, want 3", len(cfg.Tenants))
	}
	web, docs, ci := cfg.Tenants[0], cfg.Tenants[1], cfg.Tenants[2]
	if web.Name != "web" || web.Root != filepath.Join(dir, "web") || web.ReadOnly ||
		len(web.TokenHashes) != 1 || web.TokenHashes[0] != sha256.Sum256([]byte(token)) ||
		len(web.ClientCertCNs) != 1 || web.ClientCertCNs[0] != "builder" {
		t.Errorf("web: %+v", web)
	}
	if docs.Root != "/srv/docs" || !docs.ReadOnly || len(docs.TokenHashes) != 1 || docs.TokenHashes[0] != hashed {
		t.Errorf("docs: %+v", docs)
	}
	if web.AllowSetid || docs.AllowSetid || !ci.AllowSetid {
		t.Errorf("allow_setid: web %v, docs %v, ci %v; want only ci", web.AllowSetid, docs.AllowSetid, ci.AllowSetid)
	}
	if len(ci.TokenHashes) != 1 || ci.TokenHashes[0] != sha256.Sum256([]byte(envToken)) {
		t.Errorf("ci: %+v", ci)
	}
}

// sha256ToBytes returns the SHA-256 of s.
func sha256ToBytes(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func TestValidateRejectsRelativeRoot(t *testing.T) {
	cfg := Config{Tenants: []Tenant{{Name: "a", Root: "rel", ClientCertCNs: []string{"x"}}}}
	if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Validate: %v, want ErrInvalidConfig", err)
	}
	if _, err := NewRouter(cfg, Options{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewRouter: %v, want ErrInvalidConfig", err)
	}
}
