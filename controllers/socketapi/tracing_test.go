package socketapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/parleychat/parley/cmd/server/app"
	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/sioclient"
	"github.com/parleychat/parley/internal/tracing"
)

// With tracing on, a REST request and a socket event each make one trace from the handler through the services
// to the database calls, and a client's traceparent is continued.
func TestTracingFromHandlerToDatabase(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.WithExporter(tracing.Config{NodeID: 1}, sdktrace.WithSyncer(exp))
	s := testserver.Start(t, testserver.Options{Telemetry: app.Telemetry{Tracing: tr}})
	alice := s.Register(t, "alice_trace")
	_, channelID := community(t, s, alice)

	// REST, continuing the client's trace.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("GET", s.URL+"/api/servers", nil)
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	// A search: the handler, the search service and the HTTP call to OpenSearch.
	if res := s.Do(t, "GET", "/api/search?q=traced", alice.AccessToken, nil); res.Status != http.StatusOK {
		t.Fatalf("search: %d %s", res.Status, res.Body)
	}

	// A socket event: message:send is traced until its ack (the message stored).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sioclient.Connect(ctx, s.URL, alice.AccessToken, sioclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.EmitAck(ctx, "message:send", map[string]string{"channelId": channelID, "content": "traced", "nonce": "t1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EmitAck(ctx, "message:edit", map[string]string{"channelId": channelID, "messageId": "1", "content": "x"}); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	byID := map[string]tracetest.SpanStub{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID().String()] = sp
	}
	parentName := func(sp tracetest.SpanStub) string { return byID[sp.Parent.SpanID().String()].Name }
	find := func(name string, ok func(tracetest.SpanStub) bool) *tracetest.SpanStub {
		for i := range spans {
			if spans[i].Name == name && (ok == nil || ok(spans[i])) {
				return &spans[i]
			}
		}
		return nil
	}

	// nested reports whether some span named names[0] has a child names[1], which has a child names[2] …
	var nested func(parent *tracetest.SpanStub, names ...string) bool
	nested = func(parent *tracetest.SpanStub, names ...string) bool {
		if len(names) == 0 {
			return true
		}
		for i := range spans {
			sp := &spans[i]
			if sp.Name == names[0] && (parent == nil || sp.Parent.SpanID() == parent.SpanContext.SpanID()) &&
				(parent != nil || !sp.Parent.IsValid() || byID[sp.Parent.SpanID().String()].Name == "") && nested(sp, names[1:]...) {
				return true
			}
		}
		return false
	}
	logTree := func() {
		for _, sp := range spans {
			t.Logf("%s <- %s", sp.Name, parentName(sp))
		}
	}
	rest := find("GET /api/servers", nil)
	if rest == nil {
		t.Fatalf("no REST span among %d", len(spans))
	}
	if rest.SpanContext.TraceID().String() != traceID || rest.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("the REST span did not continue the client's traceparent: trace %s parent %s", rest.SpanContext.TraceID(), rest.Parent.SpanID())
	}
	// handler → service → store call, in one trace each.
	if !nested(nil, "GET /api/servers", "community.Servers", "postgres select") {
		logTree()
		t.Error("no REST handler → community.Servers → postgres select")
	}
	if !nested(nil, "POST /api/auth/register", "auth.Register", "postgres insert") {
		t.Error("no REST handler → auth.Register → postgres insert")
	}
	if !nested(nil, "socket message:send", "messaging.Send", "community.CanRead", "postgres select") {
		logTree()
		t.Error("no socket handler → messaging.Send → community.CanRead → postgres select")
	}
	if !nested(nil, "GET /api/search", "search.Search", "opensearch search") {
		logTree()
		t.Error("no REST handler → search.Search → opensearch search")
	}
	if !nested(nil, "socket connect", "auth.Authenticate") || !nested(nil, "socket connect", "community.ReadableChannelIDs") {
		logTree()
		t.Error("the handshake's token check and room lists are not under its span")
	}
	if !nested(nil, "socket message:send", "auth.CheckSession") {
		t.Error("the socket event's session check is not under its span")
	}
	if find("cassandra batch", func(sp tracetest.SpanStub) bool { return parentName(sp) == "messaging.flush" }) == nil {
		t.Error("no Cassandra write under the flush")
	}
	edit := find("socket message:edit", nil)
	if edit == nil || edit.Status.Description != "not_found" {
		t.Errorf("message:edit of an unknown message: span %+v, want status not_found", edit)
	}
	if find("messaging.Edit", func(sp tracetest.SpanStub) bool { return parentName(sp) == "socket message:edit" }) == nil {
		t.Error("the edit's work (off the socket's queue) lost its parent span")
	}
	// Every trace starts at a handler (or a flush, which serves many senders): database calls and service calls
	// outside traced work (background writes) make no spans of their own.
	for _, sp := range spans {
		if _, known := byID[sp.Parent.SpanID().String()]; known {
			continue
		}
		if !strings.HasPrefix(sp.Name, "socket ") && !strings.Contains(sp.Name, " /api/") && sp.Name != "messaging.flush" {
			t.Errorf("a span outside any handler's trace: %s", sp.Name)
		}
	}
}
