package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// ErrInvalidConfig is wrapped by every error [LoadConfig] and
// [Config.Validate] return for a config that cannot be served.
var ErrInvalidConfig = errors.New("invalid config")

// MinTokenLength is the shortest bearer token the server accepts from a
// token_file or token_env. A hash in token_sha256 cannot be checked, so
// its token is the operator's responsibility. 32 random hex digits
// (openssl rand -hex 16) meet it; use more.
const MinTokenLength = 16

// ConfigExample is a commented example of the tenants file that
// [LoadConfig] reads. The server's --help prints it.
const ConfigExample = `# Each [[tenant]] is a named tree with its own root and credentials.
# Relative paths are relative to the directory of this file.

[[tenant]]
name = "web"                      # letters, digits, '.', '_' or '-'
root = "/srv/mirror/web"          # created if missing; never shared
# SHA-256 (hex) of each accepted bearer token, e.g. from
#   printf %s "$TOKEN" | sha256sum
token_sha256 = ["<64 hex digits>"]
# With --client-ca, a verified client certificate with one of these
# common names also names this tenant (when no token is sent).
client_cert_cn = ["builder.example.com"]

[[tenant]]
name = "docs"
root = "docs-mirror"
token_file = "/etc/dirsync/docs.token"   # holds the token itself
read_only = true                         # only Status, GetManifest, GetSignature

[[tenant]]
name = "ci"
root = "/srv/mirror/ci"
token_env = "DIRSYNC_CI_TOKEN"           # environment variable holding the token
# allow_setid = true   # keep setuid, setgid and sticky bits (cleared by
#                      # default: as root the server would own them)
# allow_devices = true # make the devices clients send (only as root)
`

// Config is the set of tenants one server serves. It is what [LoadConfig]
// returns; tests and embedders may also build it by hand and check it
// with [Config.Validate].
type Config struct {
	// Tenants are the named trees, in the order of the file.
	Tenants []Tenant
}

// Tenant is one named tree and the credentials that reach it. Tokens are
// held only as SHA-256 hashes.
type Tenant struct {
	// Name names the tenant in logs and in the Status RPC.
	Name string
	// Root is the absolute path of the tenant's directory.
	Root string
	// TokenHashes are the SHA-256 hashes of the bearer tokens that
	// authenticate as this tenant.
	TokenHashes [][sha256.Size]byte
	// ClientCertCNs are the common names of verified client certificates
	// that authenticate as this tenant when no token is sent.
	ClientCertCNs []string
	// ReadOnly allows only the RPCs that read: Status, GetManifest and
	// GetSignature.
	ReadOnly bool
	// AllowSetid keeps the setuid, setgid and sticky bits of the modes
	// the tenant sends; see [Options.AllowSetid].
	AllowSetid bool
	// AllowDevices makes the devices the tenant sends; see
	// [Options.AllowDevices].
	AllowDevices bool
}

// fileConfig is the TOML form of a Config.
type fileConfig struct {
	Tenant []fileTenant `toml:"tenant"`
}

// fileTenant is the TOML form of a Tenant.
type fileTenant struct {
	Name         string   `toml:"name"`
	Root         string   `toml:"root"`
	TokenSHA256  []string `toml:"token_sha256"`
	TokenFile    string   `toml:"token_file"`
	TokenEnv     string   `toml:"token_env"`
	ReadOnly     bool     `toml:"read_only"`
	ClientCertCN []string `toml:"client_cert_cn"`
	AllowSetid   bool     `toml:"allow_setid"`
	AllowDevices bool     `toml:"allow_devices"`
}

// tenantName is the form of a tenant's name.
var tenantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadConfig reads the TOML tenants file at path (see [ConfigExample]),
// reads the tokens it refers to, with getenv (os.Getenv when nil) for
// token_env, and validates the result. Relative roots and token files are
// resolved against the file's directory. Unknown keys are errors, so a
// misspelt key is not silently ignored. Errors wrap [ErrInvalidConfig] and
// never contain a token.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	var fc fileConfig
	md, err := toml.Decode(string(data), &fc)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("%w: %s: unknown keys: %s", ErrInvalidConfig, path, strings.Join(keys, ", "))
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	var cfg Config
	for i, ft := range fc.Tenant {
		t, err := ft.resolve(base, getenv)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s: tenant %d (%q): %w", ErrInvalidConfig, path, i+1, ft.Name, err)
		}
		cfg.Tenants = append(cfg.Tenants, t)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// resolve turns the file form of a tenant into a Tenant: it makes paths
// absolute, decodes hashes and reads and hashes tokens. It checks what
// only the file form has (hex, token sources); Validate checks the rest.
func (ft fileTenant) resolve(base string, getenv func(string) string) (Tenant, error) {
	t := Tenant{Name: ft.Name, ReadOnly: ft.ReadOnly, ClientCertCNs: ft.ClientCertCN, AllowSetid: ft.AllowSetid, AllowDevices: ft.AllowDevices}
	if ft.Root != "" {
		t.Root = absUnder(base, ft.Root)
	}
	for _, h := range ft.TokenSHA256 {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) != sha256.Size {
			return t, fmt.Errorf("token_sha256 %q: want %d hex digits", h, 2*sha256.Size)
		}
		t.TokenHashes = append(t.TokenHashes, [sha256.Size]byte(b))
	}
	if ft.TokenFile != "" {
		p := absUnder(base, ft.TokenFile)
		data, err := os.ReadFile(p)
		if err != nil {
			return t, fmt.Errorf("token_file: %w", err)
		}
		tok, err := checkToken(data)
		if err != nil {
			return t, fmt.Errorf("token_file %s: %w", p, err)
		}
		t.TokenHashes = append(t.TokenHashes, sha256.Sum256(tok))
	}
	if ft.TokenEnv != "" {
		tok, err := checkToken([]byte(getenv(ft.TokenEnv)))
		if err != nil {
			return t, fmt.Errorf("token_env %s: %w", ft.TokenEnv, err)
		}
		t.TokenHashes = append(t.TokenHashes, sha256.Sum256(tok))
	}
	return t, nil
}

// checkToken trims surrounding white space (a trailing newline, typically)
// from a token and checks its length. Its errors never contain the token.
func checkToken(raw []byte) ([]byte, error) {
	tok := bytes.TrimSpace(raw)
	switch {
	case len(tok) == 0:
		return nil, errors.New("empty token")
	case len(tok) < MinTokenLength:
		return nil, fmt.Errorf("token shorter than %d characters", MinTokenLength)
	case bytes.ContainsAny(tok, " \t\r\n"):
		return nil, errors.New("token contains white space")
	}
	return tok, nil
}

// absUnder returns p made absolute against base, cleaned.
func absUnder(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// Validate checks that c can be served safely: at least one tenant; every
// tenant has a well-formed unique name, an absolute root that neither
// equals nor contains another tenant's, and at least one credential; no
// token hash or certificate name belongs to two tenants. Errors wrap
// [ErrInvalidConfig].
func (c Config) Validate() error {
	if len(c.Tenants) == 0 {
		return fmt.Errorf("%w: no [[tenant]] defined", ErrInvalidConfig)
	}
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]string{}
	cns := map[string]string{}
	roots := make([]string, len(c.Tenants))
	for i, t := range c.Tenants {
		switch {
		case !tenantName.MatchString(t.Name):
			return fmt.Errorf("%w: tenant %d: name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
				ErrInvalidConfig, i+1, t.Name)
		case names[t.Name]:
			return fmt.Errorf("%w: tenant %q defined twice", ErrInvalidConfig, t.Name)
		case t.Root == "":
			return fmt.Errorf("%w: tenant %q: no root", ErrInvalidConfig, t.Name)
		case !filepath.IsAbs(t.Root):
			return fmt.Errorf("%w: tenant %q: root %q is not absolute", ErrInvalidConfig, t.Name, t.Root)
		case len(t.TokenHashes) == 0 && len(t.ClientCertCNs) == 0:
			return fmt.Errorf("%w: tenant %q: no credentials: give token_sha256, token_file, token_env or client_cert_cn",
				ErrInvalidConfig, t.Name)
		}
		names[t.Name] = true
		roots[i] = canonicalRoot(t.Root)
		for j := range i {
			if pathWithin(roots[i], roots[j]) || pathWithin(roots[j], roots[i]) {
				return fmt.Errorf("%w: tenants %q and %q: roots %q and %q overlap; each tenant needs a tree of its own",
					ErrInvalidConfig, c.Tenants[j].Name, t.Name, c.Tenants[j].Root, t.Root)
			}
		}
		for _, h := range t.TokenHashes {
			if other, ok := hashes[h]; ok {
				return fmt.Errorf("%w: tenants %q and %q share a token", ErrInvalidConfig, other, t.Name)
			}
			hashes[h] = t.Name
		}
		for _, cn := range t.ClientCertCNs {
			if cn == "" {
				return fmt.Errorf("%w: tenant %q: empty client_cert_cn", ErrInvalidConfig, t.Name)
			}
			if other, ok := cns[cn]; ok {
				return fmt.Errorf("%w: tenants %q and %q share client_cert_cn %q", ErrInvalidConfig, other, t.Name, cn)
			}
			cns[cn] = t.Name
		}
	}
	return nil
}

// canonicalRoot returns root cleaned and, as far as it exists, with
// symlinks resolved, so that two spellings of one directory compare equal.
func canonicalRoot(root string) string {
	root = filepath.Clean(root)
	if r, err := filepath.EvalSymlinks(root); err == nil {
		return r
	}
	// Resolve the deepest existing parent, for a root not created yet.
	dir, rest := filepath.Dir(root), filepath.Base(root)
	for dir != filepath.Dir(dir) {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest)
	}
	return root
}

// pathWithin reports whether the absolute path p is dir or lies below
// it.
func pathWithin(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel) // IsLocal(".") is true
}
