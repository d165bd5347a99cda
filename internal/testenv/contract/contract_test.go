package contract

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wireEvents reads the event names of controllers/wire/events.go: the const block documented "Events a client
// sends" and the one documented "Events the server sends".
func wireEvents(t *testing.T) (client, server []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../../controllers/wire/events.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || g.Doc == nil {
			continue
		}
		var dst *[]string
		switch doc := g.Doc.Text(); {
		case strings.HasPrefix(doc, "Events a client sends"):
			dst = &client
		case strings.HasPrefix(doc, "Events the server sends"):
			dst = &server
		default:
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					t.Fatalf("events.go: a non-literal event name %T", v)
				}
				name, _ := strconv.Unquote(lit.Value)
				*dst = append(*dst, name)
			}
		}
	}
	if len(client) < 5 || len(server) < 5 {
		t.Fatalf("events.go: found %d client and %d server events; has its layout changed?", len(client), len(server))
	}
	return client, server
}

// Every event of controllers/wire/events.go has its entry in docs/asyncapi.yaml (client events with their ack),
// and the document describes no event the server does not have.
func TestEveryEventHasAnAsyncAPIEntry(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	client, server := wireEvents(t)
	for _, e := range client {
		if d.ClientEvents[e] == nil {
			t.Errorf("client event %q has no AsyncAPI entry: add a `receive` operation for it to docs/asyncapi.yaml", e)
		}
		if d.Acks[e] == nil {
			t.Errorf("client event %q has no ack in docs/asyncapi.yaml: give its operation a reply", e)
		}
	}
	for _, e := range server {
		if d.Events[e] == nil {
			t.Errorf("server event %q has no AsyncAPI entry: add a `send` operation for it to docs/asyncapi.yaml", e)
		}
	}
	known := map[string]bool{}
	for _, e := range append(client, server...) {
		known[e] = true
	}
	var extra []string
	for _, m := range []map[string]bool{keys(d.Events), keys(d.ClientEvents)} {
		for e := range m {
			if !known[e] {
				extra = append(extra, e)
			}
		}
	}
	slices.Sort(extra)
	for _, e := range extra {
		t.Errorf("docs/asyncapi.yaml describes %q, which controllers/wire/events.go does not name", e)
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// A payload that breaks a schema is reported; a right one is not.
func TestTapValidatesPayloads(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"channelId": "12", "userId": "34", "typing": true}
	c.Tap("typing:user", false, []any{good})
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("a valid typing:user was reported: %q", p)
	}
	c.Tap("typing:user", false, []any{map[string]any{"channelId": 12, "userId": "34", "typing": true}}) // a number id
	c.Tap("typing:start", true, []any{map[string]any{"ok": false, "error": map[string]any{"code": "nope", "message": "x", "retryable": false, "requestId": "r"}}})
	c.Tap("typing:start", true, []any{map[string]any{"ok": false, "error": map[string]any{"code": "invalid_input", "message": "x", "retryable": false, "requestId": "r"}}})
	if p := c.Problems(); len(p) != 2 {
		t.Fatalf("problems = %q, want the number id and the unknown code", p)
	}
	if c.Checked() != 4 {
		t.Fatalf("checked %d, want 4", c.Checked())
	}
}

// The key service's checker validates against docs/keys-openapi.yaml: a conforming answer passes, an answer
// with an undocumented field or a missing one is reported, as is an undocumented status.
func TestKeysCheckerHasTeeth(t *testing.T) {
	chk, err := NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	answer := func(path string, status int, body string) {
		h := chk.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "http://127.0.0.1:8081"+path, nil))
	}
	answer("/v1/devices/1/key-packages", 200, `{"keyPackages":3}`)
	if p := chk.Problems(); len(p) != 0 || chk.Checked() != 1 {
		t.Fatalf("a conforming answer: problems %q, checked %d", p, chk.Checked())
	}
	answer("/v1/devices/1/key-packages", 200, `{"keyPackages":3,"extra":true}`)
	answer("/v1/users/7/key-packages/claim", 200, `{"keyPackages":[{"deviceId":"1","userId":"7","data":"AA=="}]}`)
	answer("/v1/groups", 201, `{"group":{"id":"x"}}`)
	if p := chk.Problems(); len(p) != 3 || !strings.Contains(p[0], "docs/keys-openapi.yaml") {
		t.Fatalf("problems = %q, want 3 about docs/keys-openapi.yaml", p)
	}
}
