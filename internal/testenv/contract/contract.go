// Package contract checks real traffic against the API documents: every REST answer a test server gives against
// docs/openapi.yaml (kin-openapi), every Socket.IO event and ack it sends against the payload schemas of
// docs/asyncapi.yaml (JSON Schema 2020-12). testserver installs a Checker on every server it starts and fails the
// test with the problems it found.
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/parleychat/parley/docs"
)

// Base is where the documents are served; the AsyncAPI document refers to the OpenAPI one relative to it.
const Base = "https://parley.invalid/api/"

// Docs are the two documents, parsed and compiled.
type Docs struct {
	name    string // docs/openapi.yaml, in reports
	OpenAPI *openapi3.T
	router  routers.Router
	// Events the server sends, acks by the event they answer, events clients send: name → payload schema.
	Events, Acks, ClientEvents map[string]*jsonschema.Schema

	// The OpenAPI document as a JSON Schema resource: response schemas are compiled from it once each
	// (kin-openapi's own body validation compiles the schema again on every call, ~0.6 ms a response).
	compileMu sync.Mutex
	compiler  *jsonschema.Compiler
	compiled  map[string]*jsonschema.Schema
}

// schemaAt compiles (once) the schema at a JSON pointer of the OpenAPI document.
func (d *Docs) schemaAt(ptr string) (*jsonschema.Schema, error) {
	d.compileMu.Lock()
	defer d.compileMu.Unlock()
	if s, ok := d.compiled[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(Base + "openapi.json#" + ptr)
	if err != nil {
		return nil, err
	}
	d.compiled[ptr] = s
	return s, nil
}

// Load parses and checks both documents once per process (they are embedded, so they cannot change).
var Load = sync.OnceValues(func() (*Docs, error) {
	d, err := loadOpenAPI("docs/openapi.yaml", docs.OpenAPIYAML(), docs.OpenAPIJSON)
	if err != nil {
		return nil, err
	}
	if err := d.loadAsyncAPI(); err != nil {
		return nil, fmt.Errorf("docs/asyncapi.yaml: %w", err)
	}
	return d, nil
})

// LoadKeys parses and checks the key service's document (docs/keys-openapi.yaml) once per process.
var LoadKeys = sync.OnceValues(func() (*Docs, error) {
	return loadOpenAPI("docs/keys-openapi.yaml", docs.KeysOpenAPIYAML(), docs.KeysOpenAPIJSON)
})

func loadOpenAPI(name string, yamlDoc []byte, jsonDoc func() ([]byte, error)) (*Docs, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(yamlDoc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", name, err)
	}
	doc.Servers = nil // match requests on any host (test servers listen on random ports)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := &Docs{name: name, OpenAPI: doc, router: router, Events: map[string]*jsonschema.Schema{}, Acks: map[string]*jsonschema.Schema{},
		ClientEvents: map[string]*jsonschema.Schema{}, compiled: map[string]*jsonschema.Schema{}}
	b, err := jsonDoc()
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	d.compiler = jsonschema.NewCompiler()
	d.compiler.DefaultDraft(jsonschema.Draft2020)
	if err := d.compiler.AddResource(Base+"openapi.json", v); err != nil {
		return nil, err
	}
	return d, nil
}

// loadAsyncAPI compiles the payload schemas of docs/asyncapi.yaml (which refers to schemas of openapi.yaml).
func (d *Docs) loadAsyncAPI() error {
	asyncJSON, err := docs.AsyncAPIJSON()
	if err != nil {
		return err
	}
	asyncDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(asyncJSON))
	if err != nil {
		return err
	}
	root, _ := asyncDoc.(map[string]any)
	if v, _ := root["asyncapi"].(string); !strings.HasPrefix(v, "3.") {
		return fmt.Errorf("asyncapi version %q, want 3.x", v)
	}
	c := d.compiler
	if err := c.AddResource(Base+"asyncapi.json", asyncDoc); err != nil {
		return err
	}
	compile := func(ptr string) (*jsonschema.Schema, error) {
		return c.Compile(Base + "asyncapi.json#" + ptr + "/payload")
	}

	ops, _ := root["operations"].(map[string]any)
	if len(ops) == 0 {
		return fmt.Errorf("no operations")
	}
	for _, opName := range sortedKeys(ops) {
		op, _ := ops[opName].(map[string]any)
		action, _ := op["action"].(string)
		msgs, err := messagesOf(root, op)
		if err != nil {
			return fmt.Errorf("operation %s: %w", opName, err)
		}
		for _, m := range msgs {
			s, err := compile(m.ptr)
			if err != nil {
				return fmt.Errorf("operation %s, message %s: %w", opName, m.name, err)
			}
			switch action {
			case "send":
				d.Events[m.name] = s
			case "receive":
				d.ClientEvents[m.name] = s
			default:
				return fmt.Errorf("operation %s: action %q", opName, action)
			}
		}
		reply, _ := op["reply"].(map[string]any)
		if reply == nil {
			continue
		}
		replies, err := messagesOf(root, reply)
		if err != nil || len(replies) != 1 {
			return fmt.Errorf("operation %s: want one reply message (%v)", opName, err)
		}
		s, err := compile(replies[0].ptr)
		if err != nil {
			return fmt.Errorf("operation %s, reply: %w", opName, err)
		}
		for _, m := range msgs {
			d.Acks[m.name] = s
		}
	}
	return nil
}

type message struct{ name, ptr string }

// messagesOf resolves the messages an operation (or its reply) lists, following $refs to the component.
func messagesOf(root map[string]any, op map[string]any) ([]message, error) {
	list, _ := op["messages"].([]any)
	var out []message
	for _, item := range list {
		ptr, obj, err := resolve(root, item)
		if err != nil {
			return nil, err
		}
		name, _ := obj["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("message %s has no name (the event name)", ptr)
		}
		out = append(out, message{name, ptr})
	}
	return out, nil
}

// resolve follows local $refs until an object without one; it returns that object and its JSON pointer.
func resolve(root map[string]any, v any) (string, map[string]any, error) {
	ptr := ""
	for range 10 {
		obj, _ := v.(map[string]any)
		ref, ok := obj["$ref"].(string)
		if !ok {
			if obj == nil {
				return "", nil, fmt.Errorf("%s is not an object", ptr)
			}
			return ptr, obj, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return "", nil, fmt.Errorf("only local references are followed: %s", ref)
		}
		ptr = ref[1:]
		var cur any = root
		for _, part := range strings.Split(ref[2:], "/") {
			m, _ := cur.(map[string]any)
			cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		if cur == nil {
			return "", nil, fmt.Errorf("unresolved reference %s", ref)
		}
		v = cur
	}
	return "", nil, fmt.Errorf("reference loop at %s", ptr)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Checker collects the contract problems of one test server's traffic.
type Checker struct {
	docs *Docs

	mu       sync.Mutex
	problems []string
	checked  int
}

// New returns a checker of the chat server's traffic (the documents are loaded once per process).
func New() (*Checker, error) {
	d, err := Load()
	if err != nil {
		return nil, err
	}
	return &Checker{docs: d}, nil
}

// NewKeys returns a checker of the key service's REST traffic against docs/keys-openapi.yaml.
func NewKeys() (*Checker, error) {
	d, err := LoadKeys()
	if err != nil {
		return nil, err
	}
	return &Checker{docs: d}, nil
}

func (c *Checker) report(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 50 { // the first ones say enough
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// Problems are the mismatches found so far.
func (c *Checker) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}

// Checked is how many answers and socket payloads were validated.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

func (c *Checker) count() {
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()
}

// Middleware validates every answer to a request the OpenAPI document has a route for. Socket.IO and the web
// app's files are passed through; TestEveryRouteHasAnOpenAPIEntry makes sure no API route escapes this way.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/socket.io") || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		route, _, err := c.docs.router.FindRoute(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		c.count()
		if err := c.docs.checkResponse(route, rec.status, rec.Header().Get("Content-Type"), rec.body.Bytes()); err != nil {
			body := rec.body.String()
			if len(body) > 400 {
				body = body[:400] + "…"
			}
			c.report("%s %s → %d does not match %s (%s %s): %v\n    body: %s",
				r.Method, r.URL.Path, rec.status, c.docs.name, strings.ToUpper(route.Method), route.Path, err, body)
		}
	})
}

// checkResponse validates an answer against its operation: the status is documented (or a default answer
// is), the media type is one the answer declares, and a JSON body matches its schema.
func (d *Docs) checkResponse(route *routers.Route, status int, contentType string, body []byte) error {
	op := route.Operation
	statusKey := strconv.Itoa(status)
	ref := op.Responses.Value(statusKey)
	if ref == nil {
		statusKey = "default"
		if ref = op.Responses.Default(); ref == nil {
			return fmt.Errorf("status %d is not documented", status)
		}
	}
	resp := ref.Value
	if len(resp.Content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("the document declares no body for %s, the answer has %d bytes", statusKey, len(body))
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type %q: %v", contentType, err)
	}
	key := ""
	for k := range resp.Content {
		if strings.EqualFold(k, mt) {
			key = k
		}
	}
	if key == "" {
		return fmt.Errorf("Content-Type %s is not one of the documented %v", mt, sortedKeys(resp.Content))
	}
	if !strings.HasSuffix(mt, "json") {
		return nil // text (metrics): its schema is a string
	}
	// The schema's JSON pointer: under the response component it refers to, or inline under the operation.
	var ptr string
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }
	if ref.Ref != "" {
		if !strings.HasPrefix(ref.Ref, "#/") {
			return fmt.Errorf("response reference %s is not local", ref.Ref)
		}
		ptr = ref.Ref[1:]
	} else {
		ptr = "/paths/" + esc(route.Path) + "/" + strings.ToLower(route.Method) + "/responses/" + esc(statusKey)
	}
	schema, err := d.schemaAt(ptr + "/content/" + esc(key) + "/schema")
	if err != nil {
		return fmt.Errorf("compiling the schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	return schema.Validate(v)
}

// recorder passes an answer through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if r.body.Len() < 8<<20 {
		r.body.Write(b)
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Tap validates an event or ack the server sends (socketio.Tap).
func (c *Checker) Tap(event string, ack bool, args []any) {
	schemas, what := c.docs.Events, "event"
	if ack {
		schemas, what = c.docs.Acks, "ack of"
	}
	s, ok := schemas[event]
	if !ok {
		c.report("the server sent the %s %q, which docs/asyncapi.yaml does not describe: add it there", what, event)
		return
	}
	if len(args) != 1 {
		c.report("the server sent the %s %q with %d arguments; the contract is one JSON payload", what, event, len(args))
		return
	}
	c.count()
	b, err := json.Marshal(args[0])
	if err != nil {
		return // the socket layer reports unencodable payloads itself
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		c.report("%s %q: %v", what, event, err)
		return
	}
	if err := s.Validate(v); err != nil {
		if len(b) > 400 {
			b = append(b[:400], "…"...)
		}
		c.report("the %s %q does not match docs/asyncapi.yaml: %v\n    payload: %s", what, event, err, b)
	}
}
