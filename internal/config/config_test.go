package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsPointAtLocalStack(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.Cassandra.Hosts[0] != "127.0.0.1:59042" || c.Auth.AccessTTL != 15*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.Auth.BcryptCost != 12 || c.LogLevel != slog.LevelInfo || c.AllowedOrigins[0] != "http://localhost:8080" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestOverridesAndErrors(t *testing.T) {
	c, err := Load(env(map[string]string{"PARLEY_CASSANDRA_HOSTS": "a:1, b:2", "PARLEY_LOG_LEVEL": "DEBUG", "PARLEY_PUBLIC_ORIGIN": "https://chat.example.com/"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cassandra.Hosts) != 2 || c.Cassandra.Hosts[1] != "b:2" || c.LogLevel != slog.LevelDebug || c.PublicOrigin != "https://chat.example.com" {
		t.Fatalf("overrides not applied: %+v", c)
	}
	_, err = Load(env(map[string]string{"PARLEY_NODE_ID": "5000", "PARLEY_FLUSH_DELAY": "soon", "PARLEY_JWT_SECRET": "short", "PARLEY_LOG_LEVEL": "loud"}))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, name := range []string{"PARLEY_NODE_ID", "PARLEY_FLUSH_DELAY", "PARLEY_JWT_SECRET", "PARLEY_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestGeneratedSecretIsPersisted(t *testing.T) {
	dir := t.TempDir()
	c, _ := Load(env(map[string]string{"PARLEY_DATA_DIR": dir}))
	if err := c.ResolveJWTSecret(); err != nil {
		t.Fatal(err)
	}
	if !c.Auth.GeneratedSecret || len(c.Auth.JWTSecret) != 64 {
		t.Fatalf("secret not generated: %q", c.Auth.JWTSecret)
	}
	c2, _ := Load(env(map[string]string{"PARLEY_DATA_DIR": dir}))
	if err := c2.ResolveJWTSecret(); err != nil {
		t.Fatal(err)
	}
	if string(c2.Auth.JWTSecret) != string(c.Auth.JWTSecret) {
		t.Fatal("second start generated a different key")
	}
	if fi, err := os.Stat(filepath.Join(dir, "jwt-dev.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file missing or readable by others: %v %v", fi, err)
	}
	c3, _ := Load(env(map[string]string{"PARLEY_DATA_DIR": dir, "PARLEY_JWT_SECRET": strings.Repeat("k", 40)}))
	_ = c3.ResolveJWTSecret()
	if c3.Auth.GeneratedSecret {
		t.Fatal("configured secret was replaced")
	}
}

func TestTrustedProxies(t *testing.T) {
	c, _ := Load(env(nil))
	if len(c.TrustedProxies) != 0 {
		t.Fatalf("default trusts %v", c.TrustedProxies)
	}
	c, _ = Load(env(map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.5"}))
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != "192.168.1.5" {
		t.Fatalf("proxies: %v", c.TrustedProxies)
	}
}
