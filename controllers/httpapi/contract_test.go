package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/contract"
)

// Every route the server registers has an entry (path and method) in docs/openapi.yaml, so the response
// validation that testserver installs covers all of them.
func TestEveryRouteHasAnOpenAPIEntry(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	d, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range s.App.Routes() {
		if strings.HasPrefix(r.Path, "/socket.io/") {
			continue // the Socket.IO endpoint is described by docs/asyncapi.yaml
		}
		n++
		path := openAPIPath(r.Path)
		item := d.OpenAPI.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s has no OpenAPI entry: add it to docs/openapi.yaml (paths: %q: %s:)", r.Method, r.Path, path, strings.ToLower(r.Method))
		}
	}
	if n < 45 {
		t.Fatalf("only %d routes seen: is the router walked?", n)
	}
	// And the other way: every documented operation exists (a removed route must leave the document too).
	have := map[string]bool{}
	for _, r := range s.App.Routes() {
		have[r.Method+" "+openAPIPath(r.Path)] = true
	}
	for path, item := range d.OpenAPI.Paths.Map() {
		for method := range item.Operations() {
			if !have[method+" "+path] {
				t.Errorf("docs/openapi.yaml documents %s %s, which the server does not serve", method, path)
			}
		}
	}
}

// openAPIPath turns gin's /api/servers/:id into OpenAPI's /api/servers/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") || strings.HasPrefix(part, "*") {
			parts[i] = "{" + part[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// The validation has teeth: an answer that breaks the contract is reported.
func TestContractCheckerReportsAMismatch(t *testing.T) {
	t.Parallel()
	chk, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	h := chk.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"fine","extra":1}`)) // /healthz answers {status: "ok"} only
	}))
	req, _ := http.NewRequest("GET", "http://127.0.0.1/healthz", nil)
	h.ServeHTTP(&discard{header: http.Header{}}, req)
	if p := chk.Problems(); len(p) != 1 || !strings.Contains(p[0], "/healthz") {
		t.Fatalf("problems = %q, want one about /healthz", p)
	}
	chk.Tap("message:new", false, []any{map[string]any{"id": "1"}})
	chk.Tap("no:such:event", false, []any{map[string]any{}})
	chk.Tap("message:send", true, []any{map[string]any{"ok": true}}) // an ok ack without its message
	if p := chk.Problems(); len(p) != 4 {
		t.Fatalf("problems = %q, want 4", p)
	}
}

type discard struct {
	header http.Header
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// The documents are served, and they are the embedded ones.
func TestContractDocumentsAreServed(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	for path, key := range map[string]string{"/api/openapi.json": "openapi", "/api/asyncapi.json": "asyncapi"} {
		res := s.Do(t, "GET", path, "", nil)
		var doc map[string]any
		res.JSON(t, &doc)
		if v, _ := doc[key].(string); v == "" {
			t.Errorf("%s: no %q version in %.100s", path, key, res.Body)
		}
	}
}

// Every answer carries a request id: the client's when it is safe, else a new one; error bodies repeat it, and
// the access log line of the request has it with the route pattern and the user.
func TestRequestIDAndAccessLog(t *testing.T) {
	t.Parallel()
	var logBuf syncBuffer
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_LOG_LEVEL": "info"}, Log: &logBuf})
	alice := s.Register(t, "alice_rid")

	req, _ := http.NewRequest("GET", s.URL+"/api/servers/123456", nil)
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	req.Header.Set("X-Request-Id", "trace-abc.123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error struct{ Code, RequestID string }
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := res.Header.Get("X-Request-Id"); got != "trace-abc.123" || body.Error.RequestID != "trace-abc.123" {
		t.Fatalf("request id: header %q, body %q; want the client's", got, body.Error.RequestID)
	}

	// An unsafe id (a newline could forge log lines) is replaced.
	req, _ = http.NewRequest("GET", s.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "evil\" id<script>")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-Id"); len(got) != 32 || strings.ContainsAny(got, "\"< ") {
		t.Fatalf("unsafe id answered as %q, want a generated one", got)
	}

	line := logBuf.find(t, "request_id=trace-abc.123")
	for _, want := range []string{"method=GET", "route=/api/servers/:id", "status=", "user=" + alice.ID, "ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("access log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(logBuf.String(), alice.AccessToken) {
		t.Error("the log contains an access token")
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// find returns the access log line ("msg=http") that contains s.
func (b *syncBuffer) find(t *testing.T, s string) string {
	t.Helper()
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, s) && strings.Contains(line, "msg=http") {
			return line
		}
	}
	t.Fatalf("no access log line with %q in:\n%s", s, b.String())
	return ""
}
