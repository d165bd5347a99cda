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
	if c.HTTPAddr != "127.0.0.1:8080" || c.Cassandra.Hosts[0] != "127.0.0.1:59042" || c.Auth.AccessTTL != 15*time.Minute {
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

// Production defaults: loopback only, and no development origins in the socket allowlist.
func TestDefaultsAreSafeForProduction(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.HTTPAddr, "127.0.0.1:") {
		t.Fatalf("listens on %q by default", c.HTTPAddr)
	}
	if len(c.AllowedOrigins) != 1 || c.AllowedOrigins[0] != c.PublicOrigin {
		t.Fatalf("default origin allowlist: %v", c.AllowedOrigins)
	}
	if c.HTTP.HSTSMaxAge != 0 || c.HTTP.SecureOrigin || c.HTTP.BodyTimeout != 30*time.Second || c.HTTP.IdleTimeout != time.Minute {
		t.Fatalf("HTTP defaults: %+v", c.HTTP)
	}
	c, err = Load(env(map[string]string{"PARLEY_ALLOWED_ORIGINS": "http://localhost:5173", "PARLEY_HTTP_ADDR": ":8080"}))
	if err != nil || len(c.AllowedOrigins) != 2 || c.AllowedOrigins[1] != "http://localhost:5173" || c.HTTPAddr != ":8080" {
		t.Fatalf("explicit settings: %v %+v", err, c)
	}
}

func TestHTTPSettings(t *testing.T) {
	c, err := Load(env(map[string]string{"PARLEY_PUBLIC_ORIGIN": "https://chat.example.com", "PARLEY_HSTS_MAX_AGE": "8760h", "PARLEY_HTTP_BODY_TIMEOUT": "5s"}))
	if err != nil || !c.HTTP.SecureOrigin || c.HTTP.HSTSMaxAge != 8760*time.Hour || c.HTTP.BodyTimeout != 5*time.Second {
		t.Fatalf("%v %+v", err, c.HTTP)
	}
	for name, bad := range map[string]map[string]string{
		"PARLEY_HSTS_MAX_AGE":       {"PARLEY_HSTS_MAX_AGE": "8760h"}, // over plain HTTP
		"PARLEY_HTTP_WRITE_TIMEOUT": {"PARLEY_HTTP_WRITE_TIMEOUT": "10s"},
		"PARLEY_PUBLIC_ORIGIN":      {"PARLEY_PUBLIC_ORIGIN": "chat.example.com"},
		"PARLEY_HTTP_IDLE_TIMEOUT":  {"PARLEY_HTTP_IDLE_TIMEOUT": "0s"},
	} {
		if _, err := Load(env(bad)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
