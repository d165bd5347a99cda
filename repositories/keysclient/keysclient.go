// Package keysclient is the chat server's client of the key service (cmd/keys, docs/keys-openapi.yaml): the two
// calls it makes on behalf of a sender before storing an encrypted message. It speaks HTTP and turns the key
// service's answers into the error vocabulary (internal/apperr); what to ask and when is services/admission's.
package keysclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/reqid"
)

// Group is what the chat server reads of a key-service group.
type Group struct {
	ID        string
	ChannelID int64 // the chat channel the group was created for (0: none)
	Epoch     int64
}

// Client calls one key service.
type Client struct {
	base *url.URL
	http *http.Client
}

// New calls the key service at base (scheme and host); every call gives up after timeout.
func New(base *url.URL, timeout time.Duration) *Client {
	return &Client{base: base, http: &http.Client{Timeout: timeout}}
}

// Group returns the group as its member (the token's user) sees it; apperr.NotFound when the group is unknown
// or the user has no device in it.
func (c *Client) Group(ctx context.Context, token, groupID string) (Group, error) {
	return c.do(ctx, token, http.MethodGet, "/v1/groups/"+url.PathEscape(groupID), nil)
}

// AdmitMessage counts one application message in the group's epoch, or returns the key service's refusal:
// apperr.RotationOverdue, apperr.StaleEpoch (the group is past epoch), apperr.NotFound.
func (c *Client) AdmitMessage(ctx context.Context, token, groupID string, epoch uint64) (Group, error) {
	return c.do(ctx, token, http.MethodPost, "/v1/groups/"+url.PathEscape(groupID)+"/messages", map[string]uint64{"epoch": epoch})
}

type groupBody struct {
	Group struct {
		ID        string `json:"id"`
		ChannelID string `json:"channelId"`
		Epoch     int64  `json:"epoch"`
	} `json:"group"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (c *Client) do(ctx context.Context, token, method, path string, body any) (Group, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Group{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), rd)
	if err != nil {
		return Group{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := reqid.From(ctx); id != "" {
		req.Header.Set(reqid.Header, id)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return Group{}, unavailable(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return Group{}, unavailable(err)
	}
	if res.StatusCode == http.StatusOK {
		var g groupBody
		if err := json.Unmarshal(raw, &g); err != nil {
			return Group{}, unavailable(fmt.Errorf("key service answer: %w", err))
		}
		out := Group{ID: g.Group.ID, Epoch: g.Group.Epoch}
		if g.Group.ChannelID != "" {
			if out.ChannelID, err = strconv.ParseInt(g.Group.ChannelID, 10, 64); err != nil {
				return Group{}, unavailable(fmt.Errorf("key service channelId: %w", err))
			}
		}
		return out, nil
	}
	var e errorBody
	_ = json.Unmarshal(raw, &e)
	switch {
	case res.StatusCode == http.StatusConflict && e.Error.Code == string(apperr.RotationOverdue):
		return Group{}, apperr.New(apperr.RotationOverdue, "this conversation's keys must be rotated before new messages are accepted; commit a rotation and send again")
	case res.StatusCode == http.StatusConflict && e.Error.Code == string(apperr.StaleEpoch):
		return Group{}, apperr.New(apperr.StaleEpoch, "the message was encrypted with keys this conversation has moved past; catch up and encrypt it again")
	case res.StatusCode == http.StatusNotFound:
		return Group{}, apperr.New(apperr.NotFound, "group not found")
	case res.StatusCode == http.StatusBadRequest:
		return Group{}, apperr.InvalidField("content", "the key service refused the message's group or epoch: "+e.Error.Message)
	}
	return Group{}, unavailable(fmt.Errorf("key service: %d %s %s", res.StatusCode, e.Error.Code, e.Error.Message))
}

// unavailable: the key service could not answer (down, slow, or an answer we do not understand); retryable.
func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, err, "the key service is unavailable; retry shortly")
}
