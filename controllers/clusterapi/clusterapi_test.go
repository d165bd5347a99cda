package clusterapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/controllers/clusterapi"
	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
)

type owner struct{ block chan struct{} }

func (o owner) Accept(d model.Message, done func(model.Message, error)) error {
	userID, channelID, content, nonce := d.SenderID, d.ChannelID, d.Content, d.Nonce
	if content == "refuse" {
		return apperr.RateLimit(1500 * time.Millisecond)
	}
	go func() {
		if content == "slow" {
			<-o.block
		}
		done(model.Message{ID: 7, ChannelID: channelID, SenderID: userID, Content: content, Nonce: nonce}, nil)
	}()
	return nil
}

func (owner) EditHere(_ context.Context, userID, channelID, messageID int64, content string, _ bool) (model.Message, error) {
	if userID != 1 {
		return model.Message{}, apperr.New(apperr.Forbidden, "you can only edit your own messages")
	}
	return model.Message{ID: messageID, ChannelID: channelID, Content: content}, nil
}

func (owner) DeleteHere(context.Context, int64, int64, int64) error { return nil }

func (owner) HistoryHere(_ context.Context, _, channelID int64, limit int) (messaging.Page, error) {
	return messaging.Page{Messages: []model.Message{{ID: 1, ChannelID: channelID}, {ID: 2, ChannelID: channelID}}[:limit], HasMore: true}, nil
}

type addrs struct {
	mu sync.Mutex
	m  map[int64]string
}

func (a *addrs) Addr(id int64) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.m[id]
	return v, ok
}

var secret = []byte("clusterapi-test-secret-0123456789abcdef")

func TestForwardedCallsAndErrors(t *testing.T) {
	o := owner{block: make(chan struct{})}
	srv := httptest.NewServer(clusterapi.Handler(o, secret, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	a := &addrs{m: map[int64]string{2: strings.TrimPrefix(srv.URL, "http://")}}
	c := clusterapi.NewClient(a, secret)
	defer c.Close()
	ctx := context.Background()

	send := func(node, user, ch int64, content, nonce string) (model.Message, error) {
		return c.Send(ctx, node, model.Message{SenderID: user, ChannelID: ch, Content: content, Nonce: nonce})
	}
	m, err := send(2, 5, 10, "hi", "n1")
	if err != nil || m.ID != 7 || m.Content != "hi" || m.SenderID != 5 {
		t.Fatalf("send: %+v %v", m, err)
	}
	_, err = send(2, 5, 10, "refuse", "n2")
	if e := apperr.As(err); e.Kind != apperr.RateLimited || e.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("refusal came back as %+v", e)
	}
	if m, err := c.Edit(ctx, 2, 1, 10, 9, "edited", false); err != nil || m.Content != "edited" {
		t.Fatalf("edit: %+v %v", m, err)
	}
	if _, err := c.Edit(ctx, 2, 3, 10, 9, "edited", false); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("someone else's edit: %v", err)
	}
	if err := c.Delete(ctx, 2, 1, 10, 9); err != nil {
		t.Fatal(err)
	}
	if p, err := c.History(ctx, 2, 1, 10, 2); err != nil || len(p.Messages) != 2 || !p.HasMore {
		t.Fatalf("newest page: %+v %v", p, err)
	}
	if _, err := send(9, 5, 10, "hi", "n3"); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("send to an unknown node: %v", err)
	}

	// A node that stops answering: the call ends as soon as its lease is gone, with a retryable error.
	done := make(chan error, 1)
	go func() { _, err := send(2, 5, 10, "slow", "n4"); done <- err }()
	time.Sleep(300 * time.Millisecond)
	a.mu.Lock()
	delete(a.m, 2)
	a.mu.Unlock()
	select {
	case err := <-done:
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("call to a departed node: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the call to a departed node did not end")
	}
	close(o.block)

	// Without the secret: 401.
	for _, h := range []string{"", "Bearer wrong-secret", "Basic " + string(secret)} {
		req, _ := http.NewRequest("POST", srv.URL+"/internal/v1/messages/send-batch", strings.NewReader(`{"items":[{"userId":1,"channelId":2,"content":"x","nonce":"y"}]}`))
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", h, res.StatusCode)
		}
	}
	bad := clusterapi.NewClient(a, []byte("another-secret-another-secret-0123456"))
	a.mu.Lock()
	a.m[2] = strings.TrimPrefix(srv.URL, "http://")
	a.mu.Unlock()
	if _, err := bad.Send(ctx, 2, model.Message{SenderID: 5, ChannelID: 10, Content: "hi", Nonce: "n5"}); !apperr.Is(err, apperr.Unavailable) || errors.Is(err, context.Canceled) {
		t.Fatalf("send with a wrong secret: %v", err)
	}
}

// Concurrent sends to one node travel in few requests, and each gets its own answer.
func TestSendsAreBatched(t *testing.T) {
	var requests atomic.Int64
	o := owner{block: make(chan struct{})}
	h := clusterapi.Handler(o, secret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); h.ServeHTTP(w, r) }))
	defer srv.Close()
	c := clusterapi.NewClient(&addrs{m: map[int64]string{2: strings.TrimPrefix(srv.URL, "http://")}}, secret)
	defer c.Close()
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	msgs := make([]model.Message, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			content := fmt.Sprint("m", i)
			if i%10 == 0 {
				content = "refuse"
			}
			msgs[i], errs[i] = c.Send(context.Background(), 2, model.Message{SenderID: 5, ChannelID: 10, Content: content, Nonce: fmt.Sprint("n", i)})
		}()
	}
	wg.Wait()
	for i := range n {
		if i%10 == 0 {
			if !apperr.Is(errs[i], apperr.RateLimited) {
				t.Errorf("send %d: %v, want its own refusal", i, errs[i])
			}
		} else if errs[i] != nil || msgs[i].Content != fmt.Sprint("m", i) || msgs[i].Nonce != fmt.Sprint("n", i) {
			t.Errorf("send %d: %+v %v", i, msgs[i], errs[i])
		}
	}
	if r := requests.Load(); r >= n/2 {
		t.Errorf("%d requests for %d concurrent sends: not batched", r, n)
	}
	t.Logf("%d sends in %d requests", n, requests.Load())
}
