// Package clusterapi is the internal API between Parley nodes, served on a private listener: a node that
// holds a socket forwards sends, edits and deletes of a channel to the node that owns the channel. Calls are
// authenticated with the cluster's shared secret (keep the listener on a private network; the secret is a
// second lock, not a replacement for one).
package clusterapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/messaging"
)

// Owner is what the owning node does with forwarded calls (messaging.Service).
type Owner interface {
	Accept(draft model.Message, done func(model.Message, error)) error
	EditHere(ctx context.Context, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error)
	DeleteHere(ctx context.Context, userID, channelID, messageID int64) error
	HistoryHere(ctx context.Context, userID, channelID int64, limit int) (messaging.Page, error)
}

type sendRequest struct {
	UserID    int64  `json:"userId"`
	ChannelID int64  `json:"channelId"`
	MessageID int64  `json:"messageId,omitempty"`
	Content   string `json:"content,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	// Send: the mentions the sender's node resolved.
	Mentions        []int64 `json:"mentions,omitempty"`
	MentionEveryone bool    `json:"mentionEveryone,omitempty"`
	ReplyTo         int64   `json:"replyTo,omitempty"`
	Kind            string  `json:"kind,omitempty"`
	Encrypted       bool    `json:"encrypted,omitempty"`
	// Send: the files the sender's node claimed for the message.
	Attachments []model.Attachment `json:"attachments,omitempty"`
}

type reply struct {
	Message  *model.Message  `json:"message,omitempty"`
	Messages []model.Message `json:"messages,omitempty"`
	HasMore  bool            `json:"hasMore,omitempty"`
	Error    *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Kind         apperr.Kind `json:"kind"`
	Message      string      `json:"message"`
	Field        string      `json:"field,omitempty"`
	RetryAfterMS int64       `json:"retryAfterMs,omitempty"`
}

const (
	pathEdit   = "/internal/v1/messages/edit"
	pathDelete = "/internal/v1/messages/delete"
	pathNewest = "/internal/v1/messages/newest"
	pathBatch  = "/internal/v1/messages/send-batch"
	maxBatch   = 256     // sends per batch request
	maxBatchIn = 8 << 20 // bytes of one batch request or answer
	maxBody    = 64 << 10
)

// Handler serves the internal API.
func Handler(owner Owner, secret []byte, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, fn func(ctx context.Context, r sendRequest) (reply, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, req *http.Request) {
			if !authorized(req, secret) {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			var r sendRequest
			if err := json.NewDecoder(io.LimitReader(req.Body, maxBody)).Decode(&r); err != nil {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			out, err := fn(req.Context(), r)
			if err != nil {
				out = errorReply(err, log)
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	mux.HandleFunc("POST "+pathBatch, func(w http.ResponseWriter, req *http.Request) {
		if !authorized(req, secret) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var in batchRequest
		if err := json.NewDecoder(io.LimitReader(req.Body, maxBatchIn)).Decode(&in); err != nil || len(in.Items) > maxBatch {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		out := batchReply{Results: make([]reply, len(in.Items))}
		var wg sync.WaitGroup
		for i, r := range in.Items {
			draft := model.Message{ChannelID: r.ChannelID, SenderID: r.UserID, Content: r.Content, Nonce: r.Nonce,
				Mentions: r.Mentions, MentionEveryone: r.MentionEveryone, ReplyTo: r.ReplyTo, Kind: r.Kind, Encrypted: r.Encrypted, Attachments: r.Attachments}
			wg.Add(1)
			err := owner.Accept(draft, func(m model.Message, err error) {
				if err != nil {
					out.Results[i] = errorReply(err, log)
				} else {
					out.Results[i] = reply{Message: &m}
				}
				wg.Done()
			})
			if err != nil {
				out.Results[i] = errorReply(err, log)
				wg.Done()
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-req.Context().Done(): // the caller gave up; retries find what was stored
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	handle(pathEdit, func(ctx context.Context, r sendRequest) (reply, error) {
		m, err := owner.EditHere(ctx, r.UserID, r.ChannelID, r.MessageID, r.Content, r.Encrypted)
		return reply{Message: &m}, err
	})
	handle(pathDelete, func(ctx context.Context, r sendRequest) (reply, error) {
		return reply{}, owner.DeleteHere(ctx, r.UserID, r.ChannelID, r.MessageID)
	})
	handle(pathNewest, func(ctx context.Context, r sendRequest) (reply, error) {
		p, err := owner.HistoryHere(ctx, r.UserID, r.ChannelID, r.Limit)
		return reply{Messages: p.Messages, HasMore: p.HasMore}, err
	})
	return mux
}

type batchRequest struct {
	Items []sendRequest `json:"items"`
}

type batchReply struct {
	Results []reply `json:"results"`
}

func errorReply(err error, log *slog.Logger) reply {
	e := apperr.As(err)
	if e.Kind == apperr.Internal {
		log.Error("forwarded call failed", "err", err)
	}
	return reply{Error: &wireError{Kind: e.Kind, Message: e.Message, Field: e.Field, RetryAfterMS: e.RetryAfter.Milliseconds()}}
}

func authorized(r *http.Request, secret []byte) bool {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), secret) == 1
}

// Addresses finds a live node's internal address (cluster.Node).
type Addresses interface {
	Addr(nodeID int64) (string, bool)
}

// Client calls other nodes' internal API (it is messaging's Forwarder).
type Client struct {
	addrs  Addresses
	secret string
	http   *http.Client
	watch  time.Duration // how often a waiting call checks that its node is still alive

	mu       sync.Mutex
	batchers map[int64]*batcher
	stop     chan struct{}
}

// NewClient makes a client that keeps connections to the other nodes open.
func NewClient(addrs Addresses, secret []byte) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{addrs: addrs, secret: string(secret), http: &http.Client{Transport: tr}, watch: 200 * time.Millisecond,
		batchers: map[int64]*batcher{}, stop: make(chan struct{})}
}

// Close stops the batchers and drops idle connections.
func (c *Client) Close() {
	c.mu.Lock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	c.http.CloseIdleConnections()
}

var errNodeGone = apperr.New(apperr.Unavailable, "the server that owns this channel is unavailable; retry shortly")

func (c *Client) call(ctx context.Context, node int64, path string, r sendRequest) (model.Message, error) {
	out, err := c.do(ctx, node, path, r)
	if err != nil {
		return model.Message{}, err
	}
	if out.Message == nil {
		if path == pathDelete {
			return model.Message{}, nil
		}
		return model.Message{}, errors.New("clusterapi: answer without a message")
	}
	return *out.Message, nil
}

func (c *Client) do(ctx context.Context, node int64, path string, r sendRequest) (reply, error) {
	var out reply
	if err := c.post(ctx, node, path, r, &out, maxBody); err != nil {
		return reply{}, err
	}
	if out.Error != nil {
		return reply{}, out.Error.err()
	}
	return out, nil
}

func (e *wireError) err() error {
	return &apperr.Error{Kind: e.Kind, Message: e.Message, Field: e.Field, RetryAfter: time.Duration(e.RetryAfterMS) * time.Millisecond}
}

// post sends one authenticated JSON request to a node and decodes its answer into out.
func (c *Client) post(ctx context.Context, node int64, path string, in, out any, limit int64) error {
	addr, ok := c.addrs.Addr(node)
	if !ok {
		return errNodeGone
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	// A node that dies or freezes does not answer; give up as soon as its lease is gone (a few seconds), not
	// at the caller's timeout, so the sender's retry reaches the new owner quickly.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	req.Header.Set("Content-Type", "application/json")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(c.watch)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if now, ok := c.addrs.Addr(node); !ok || now != addr {
					cancel(errNodeGone)
					return
				}
			}
		}
	}()
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errNodeGone) {
			return errNodeGone
		}
		return apperr.Wrap(apperr.Unavailable, err, "the server that owns this channel did not answer; retry shortly")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apperr.Wrap(apperr.Unavailable, fmt.Errorf("node %d answered %s", node, resp.Status), "the server that owns this channel did not answer; retry shortly")
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		if errors.Is(context.Cause(ctx), errNodeGone) {
			return errNodeGone
		}
		return apperr.Wrap(apperr.Unavailable, err, "the server that owns this channel answered garbage; retry shortly")
	}
	return nil
}

// Send forwards a message to the channel's owner and waits until it is stored (or refused). Sends to one node
// travel in batches (see batcher), so a busy gateway makes one request per batch, not one per message.
func (c *Client) Send(ctx context.Context, node int64, d model.Message) (model.Message, error) {
	p := pendingSend{req: sendRequest{UserID: d.SenderID, ChannelID: d.ChannelID, Content: d.Content, Nonce: d.Nonce,
		Mentions: d.Mentions, MentionEveryone: d.MentionEveryone, ReplyTo: d.ReplyTo, Kind: d.Kind, Encrypted: d.Encrypted, Attachments: d.Attachments}, done: make(chan sendResult, 1)}
	c.batcher(node).add(p)
	select {
	case r := <-p.done:
		return r.m, r.err
	case <-ctx.Done():
		return model.Message{}, apperr.New(apperr.Unavailable, "the server that owns this channel is slow; retry")
	}
}

func (c *Client) Edit(ctx context.Context, node, userID, channelID, messageID int64, content string, encrypted bool) (model.Message, error) {
	return c.call(ctx, node, pathEdit, sendRequest{UserID: userID, ChannelID: channelID, MessageID: messageID, Content: content, Encrypted: encrypted})
}

func (c *Client) Delete(ctx context.Context, node, userID, channelID, messageID int64) error {
	_, err := c.call(ctx, node, pathDelete, sendRequest{UserID: userID, ChannelID: channelID, MessageID: messageID})
	return err
}

func (c *Client) History(ctx context.Context, node, userID, channelID int64, limit int) (messaging.Page, error) {
	out, err := c.do(ctx, node, pathNewest, sendRequest{UserID: userID, ChannelID: channelID, Limit: limit})
	if err != nil {
		return messaging.Page{}, err
	}
	return messaging.Page{Messages: out.Messages, HasMore: out.HasMore}, nil
}
