package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// The web app's files go out precompressed (the .br/.gz that frontend/scripts/precompress.mjs writes) in the
// best encoding the browser accepts, with the original's content type, and plain to everyone else.
func TestStaticFilesAreServedPrecompressed(t *testing.T) {
	dir := t.TempDir()
	js := []byte(strings.Repeat("console.log('parley');\n", 200))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(js)
	_ = zw.Close()
	files := map[string][]byte{
		"assets/app-1a2b.js":    js,
		"assets/app-1a2b.js.gz": gz.Bytes(),
		"assets/app-1a2b.js.br": []byte("brotli bytes (the server does not decode them)"),
		"index.html":            []byte("<!doctype html><title>Parley</title>"),
		"index.html.gz":         gzipped(t, "<!doctype html><title>Parley</title>"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.NoRoute(staticApp(dir))
	get := func(method, path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	for _, c := range []struct {
		name, method, path, accept, encoding string
		body                                 []byte
	}{
		{"brotli preferred", http.MethodGet, "/assets/app-1a2b.js", "gzip, deflate, br", "br", files["assets/app-1a2b.js.br"]},
		{"gzip when brotli is refused", http.MethodGet, "/assets/app-1a2b.js", "br;q=0, gzip;q=0.8", "gzip", gz.Bytes()},
		{"plain without Accept-Encoding", http.MethodGet, "/assets/app-1a2b.js", "", "", js},
		{"plain when nothing usable is accepted", http.MethodGet, "/assets/app-1a2b.js", "deflate, *;q=0", "", js},
		{"HEAD gets the headers", http.MethodHead, "/assets/app-1a2b.js", "br", "br", nil},
		{"the app's routes get index.html, gzip (no .br exists)", http.MethodGet, "/channels/123", "br, gzip", "gzip", files["index.html.gz"]},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := get(c.method, c.path, c.accept)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			if got := w.Header().Get("Content-Encoding"); got != c.encoding {
				t.Fatalf("Content-Encoding %q, want %q", got, c.encoding)
			}
			if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
				t.Error("no Vary: Accept-Encoding (caches would mix encodings)")
			}
			ct := w.Header().Get("Content-Type")
			if strings.HasPrefix(c.path, "/assets/") && !strings.Contains(ct, "javascript") || !strings.HasPrefix(c.path, "/assets/") && !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
			if c.body != nil && !bytes.Equal(w.Body.Bytes(), c.body) {
				t.Errorf("body: %d bytes, want %d", w.Body.Len(), len(c.body))
			}
		})
	}
	// The gzip copy decodes to the original, and hashed assets are cached for good while index.html is not.
	w := get(http.MethodGet, "/assets/app-1a2b.js", "gzip")
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, js) {
		t.Error("gzip body does not decode to the file")
	}
	if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("asset Cache-Control %q", cc)
	}
	if cc := get(http.MethodGet, "/", "gzip").Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index Cache-Control %q", cc)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAcceptedEncodings(t *testing.T) {
	got := acceptedEncodings(" GZIP ;q=0.5, br;q=0, identity, deflate;q=bogus")
	want := map[string]bool{"gzip": true, "br": false, "identity": true, "deflate": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// The build step that writes the compressed copies (frontend/scripts/precompress.mjs, run by `npm run build`):
// big text files get a .br and a .gz that decode to the original, tiny ones and images are left alone.
func TestPrecompressScriptWritesTheCopiesTheServerSends(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed (make test installs it):", err)
	}
	dir := t.TempDir()
	big := []byte(strings.Repeat("export const parley = 'chat';\n", 300))
	for name, data := range map[string][]byte{"assets/app.js": big, "tiny.css": []byte("a{}"), "logo.png": big} {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(node, "../../frontend/scripts/precompress.mjs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("precompress: %v\n%s", err, out)
	}
	for _, name := range []string{"tiny.css.gz", "tiny.css.br", "logo.png.gz", "logo.png.br"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written; small files and images stay uncompressed", name)
		}
	}
	gz, err := os.ReadFile(filepath.Join(dir, "assets/app.js.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); !bytes.Equal(plain, big) {
		t.Error("the .gz does not decode to the file")
	}
	if br, err := os.ReadFile(filepath.Join(dir, "assets/app.js.br")); err != nil || len(br) == 0 || len(br) >= len(gz) {
		t.Errorf("the .br: %d bytes (gzip %d), %v", len(br), len(gz), err)
	}
}
