package socketapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/controllers/socketapi"
	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv/sioclient"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/messaging"
	"github.com/parleychat/parley/services/reactions"
)

// The fuzz target below runs every client event through the real server (Socket.IO parser, the on wrapper,
// decode, the handler's id parsing) down to services that accept everything and record what they got. Nothing
// touches a database, so it runs without the local stack.

// call is what a fake service was asked to do, in the handler's terms.
type call struct {
	op   string
	args []any
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(op string, args ...any) {
	r.mu.Lock()
	r.calls = append(r.calls, call{op, args})
	r.mu.Unlock()
}

func (r *recorder) take() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

const fuzzUser, fuzzSession = int64(7), int64(9)

type fakeAuth struct{}

func (fakeAuth) Authenticate(context.Context, string) (auth.Claims, error) {
	return auth.Claims{UserID: fuzzUser, SessionID: fuzzSession, ExpiresAt: time.Now().Add(time.Hour)}, nil
}
func (fakeAuth) CheckSession(context.Context, int64) error { return nil }

type fakeServices struct{ rec *recorder }

func (f fakeServices) Send(_ context.Context, d messaging.Draft, done func(model.Message, error)) error {
	f.rec.add("send", d)
	go done(model.Message{ID: 1, ChannelID: d.ChannelID, SenderID: d.UserID, Content: d.Content, Nonce: d.Nonce, CreatedAt: time.Now()}, nil)
	return nil
}
func (f fakeServices) EditInSession(_ context.Context, sessionID, userID, channelID, messageID int64, content string, _ bool) (model.Message, error) {
	f.rec.add("edit", sessionID, userID, channelID, messageID, content)
	return model.Message{ID: messageID, ChannelID: channelID, SenderID: userID, Content: content}, nil
}
func (f fakeServices) Delete(_ context.Context, userID, channelID, messageID int64) error {
	f.rec.add("delete", userID, channelID, messageID)
	return nil
}
func (f fakeServices) Sync(_ context.Context, userID int64, since map[int64]int64) (map[int64]messaging.SyncResult, error) {
	f.rec.add("sync", userID, since)
	return map[int64]messaging.SyncResult{}, nil
}
func (f fakeServices) ConnectedAs(int64, string, string) {}
func (f fakeServices) Disconnected(int64, string)        {}
func (f fakeServices) SetStatus(userID int64, _, status string) error {
	f.rec.add("presence", userID, status)
	return nil
}
func (f fakeServices) Start(_ context.Context, userID, channelID int64) error {
	f.rec.add("typing:start", userID, channelID)
	return nil
}
func (f fakeServices) Stop(userID, channelID int64) { f.rec.add("typing:stop", userID, channelID) }
func (f fakeServices) Read(_ context.Context, userID, channelID, messageID int64) error {
	f.rec.add("read", userID, channelID, messageID)
	return nil
}
func (f fakeServices) Delivered(_ context.Context, userID, channelID, messageID int64) error {
	f.rec.add("delivered", userID, channelID, messageID)
	return nil
}
func (f fakeServices) Add(_ context.Context, userID, channelID, messageID int64, emoji string) (reactions.Summary, error) {
	f.rec.add("reaction:add", userID, channelID, messageID, emoji)
	return reactions.Summary{Emoji: emoji, Count: 1, Me: true}, nil
}
func (f fakeServices) Remove(_ context.Context, userID, channelID, messageID int64, emoji string) (reactions.Summary, error) {
	f.rec.add("reaction:remove", userID, channelID, messageID, emoji)
	return reactions.Summary{Emoji: emoji}, nil
}

// fuzzEvents are the client events and, for each, the service call a payload must turn into (ok is false when the
// payload must be refused as invalid_input).
var fuzzEvents = []struct {
	name   string
	expect func(raw []byte) (want call, ok bool)
}{
	{wire.EventMessageSend, func(raw []byte) (call, bool) {
		var p wire.SendMessagePayload
		if !decodes(raw, &p) {
			return call{}, false
		}
		ch, ok1 := id(p.ChannelID)
		reply, ok2 := int64(0), true
		if p.ReplyTo != "" {
			reply, ok2 = id(p.ReplyTo)
		}
		return call{"send", []any{messaging.Draft{UserID: fuzzUser, SessionID: fuzzSession, ChannelID: ch, Content: p.Content, Nonce: p.Nonce, ReplyTo: reply}}}, ok1 && ok2
	}},
	{wire.EventMessageEdit, func(raw []byte) (call, bool) {
		var p wire.EditMessagePayload
		if !decodes(raw, &p) {
			return call{}, false
		}
		ch, ok1 := id(p.ChannelID)
		m, ok2 := id(p.MessageID)
		return call{"edit", []any{fuzzSession, fuzzUser, ch, m, p.Content}}, ok1 && ok2
	}},
	{wire.EventMessageDelete, refEvent("delete")},
	{wire.EventReceiptRead, refEvent("read")},
	{wire.EventMessageDelivered, refEvent("delivered")},
	{wire.EventMessagesSync, func(raw []byte) (call, bool) {
		var p wire.SyncPayload
		if !decodes(raw, &p) {
			return call{}, false
		}
		since := map[int64]int64{}
		for k, v := range p.Channels {
			ch, ok := id(k)
			if !ok {
				return call{}, false
			}
			var after int64
			if v != "" && v != "0" {
				if after, ok = id(v); !ok {
					return call{}, false
				}
			}
			since[ch] = after
		}
		return call{"sync", []any{fuzzUser, since}}, true
	}},
	{wire.EventTypingStart, chanEvent("typing:start")},
	{wire.EventTypingStop, chanEvent("typing:stop")},
	{wire.EventPresenceSet, func(raw []byte) (call, bool) {
		var p wire.PresenceSetPayload
		if !decodes(raw, &p) {
			return call{}, false
		}
		return call{"presence", []any{fuzzUser, p.Status}}, true
	}},
	{wire.EventReactionAdd, reactionEvent("reaction:add")},
	{wire.EventReactionRemove, reactionEvent("reaction:remove")},
}

// decodes is the reference decoding: a JSON value other than null that fits the payload type.
func decodes(raw []byte, dst any) bool {
	return len(raw) > 0 && strings.TrimSpace(string(raw)) != "null" && json.Unmarshal(raw, dst) == nil
}

// id is the reference reading of a wire id, written apart from wire.ParseID: decimal digits (strconv's optional
// "+" allowed), a value from 1 to 2^63-1.
func id(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	return v, err == nil && v > 0
}

func refEvent(op string) func([]byte) (call, bool) {
	return func(raw []byte) (call, bool) {
		var p wire.MessageRef
		if !decodes(raw, &p) {
			return call{}, false
		}
		ch, ok1 := id(p.ChannelID)
		m, ok2 := id(p.MessageID)
		return call{op, []any{fuzzUser, ch, m}}, ok1 && ok2
	}
}

func chanEvent(op string) func([]byte) (call, bool) {
	return func(raw []byte) (call, bool) {
		var p wire.ChannelRef
		if !decodes(raw, &p) {
			return call{}, false
		}
		ch, ok := id(p.ChannelID)
		return call{op, []any{fuzzUser, ch}}, ok
	}
}

func reactionEvent(op string) func([]byte) (call, bool) {
	return func(raw []byte) (call, bool) {
		var p wire.ReactionPayload
		if !decodes(raw, &p) {
			return call{}, false
		}
		ch, ok1 := id(p.ChannelID)
		m, ok2 := id(p.MessageID)
		return call{op, []any{fuzzUser, ch, m, p.Emoji}}, ok1 && ok2
	}
}

// FuzzEventPayloads sends one event with an arbitrary JSON payload through the real socket server and checks:
// exactly one ack comes, shaped {ok:true,...} or {ok:false,error:{code,message,retryable}}; never "internal" (a
// recovered panic answers that); a payload the reference decoding refuses gets invalid_input and reaches no
// service; one it accepts reaches the service with exactly the decoded values and is answered ok; the connection
// stays open.
func FuzzEventPayloads(f *testing.F) {
	seeds := []string{
		`{"channelId":"123","content":"hello","nonce":"n-1"}`,
		`{"channelId":"123","content":"hi","nonce":"n-2","replyTo":"456"}`,
		`{"channelId":"123","messageId":"456","content":"edited"}`,
		`{"channelId":"123","messageId":"456"}`,
		`{"channels":{"123":"456","124":"","125":"0"}}`,
		`{"channelId":"123"}`, `{"status":"idle"}`, `{"status":"online"}`,
		`{"channelId":"123","messageId":"456","emoji":"👍"}`,
		`{}`, `null`, `[]`, `1`, `"x"`, `{"channelId":123}`, `{"channelId":"-1"}`, `{"channelId":"0"}`,
		`{"channelId":"9223372036854775808"}`, `{"channelId":" 1"}`, `{"channels":{"x":"1"}}`, `{"channels":[]}`,
		`{"channelId":"1","messageId":"2","content":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`,
		`{"channelId":"1","content":"\u0000\ud800","nonce":"\u202e"}`,
	}
	for _, s := range seeds {
		for i := range fuzzEvents {
			f.Add(uint8(i), []byte(s))
		}
	}
	rec := &recorder{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No event budgets (an empty map): a rate-limited event never reaches its decoder, and the budgets have tests of
	// their own.
	srv := socketapi.NewHub(socketapi.Config{PingInterval: time.Hour, EventLimits: map[string]socketapi.Limit{}}, log)
	svc := fakeServices{rec}
	socketapi.New(srv, socketapi.Services{Auth: fakeAuth{}, Messages: svc, Presence: svc, Typing: svc, Receipts: svc, Reactions: svc}, log)
	hs := httptest.NewServer(srv.Handler())
	f.Cleanup(func() { srv.Close(); hs.Close() })
	var c *sioclient.Client
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		if !json.Valid(payload) || !utf8.Valid(payload) {
			return // a broken packet or text frame, not an event: the parser's and the transport's targets cover those
		}
		if c == nil || c.Err() != nil {
			var err error
			if c, err = sioclient.Connect(context.Background(), hs.URL, "token", sioclient.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		ev := fuzzEvents[int(which)%len(fuzzEvents)]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		body := fmt.Appendf(nil, `[%q,%s]`, ev.name, payload)
		raw, err := c.EmitRawAck(ctx, body)
		if err != nil {
			t.Fatalf("%s %s: no ack: %v", ev.name, payload, err)
		}
		var ack struct {
			OK    *bool `json:"ok"`
			Error *struct {
				Code      string `json:"code"`
				Message   string `json:"message"`
				Retryable *bool  `json:"retryable"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &ack); err != nil || ack.OK == nil || (!*ack.OK && (ack.Error == nil || ack.Error.Code == "" || ack.Error.Message == "" || ack.Error.Retryable == nil)) {
			t.Fatalf("%s %s: ack %s is not {ok} or {ok:false,error:{code,message,retryable}}", ev.name, payload, raw)
		}
		want, accept := ev.expect(payload)
		calls := rec.take()
		switch {
		case !*ack.OK && ack.Error.Code == "internal":
			t.Fatalf("%s %s: internal error %s", ev.name, payload, raw)
		case !accept && (*ack.OK || ack.Error.Code != "invalid_input"):
			t.Fatalf("%s %s: want invalid_input, got %s", ev.name, payload, raw)
		case !accept && len(calls) > 0:
			t.Fatalf("%s %s: refused, yet the service got %+v", ev.name, payload, calls)
		case accept && !*ack.OK:
			t.Fatalf("%s %s: refused with %s", ev.name, payload, raw)
		case accept && (len(calls) != 1 || !reflect.DeepEqual(calls[0], want)):
			t.Fatalf("%s %s: the service got %+v, want %+v", ev.name, payload, calls, want)
		}
		if c.Err() != nil {
			t.Fatalf("%s %s: the connection closed: %v", ev.name, payload, c.Err())
		}
	})
}
