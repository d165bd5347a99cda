package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

type settings struct {
	MutedChannels    []string `json:"mutedChannels"`
	MutedServers     []string `json:"mutedServers"`
	SuppressEveryone []string `json:"suppressEveryone"`
	NotifySound      bool     `json:"notifySound"`
	Desktop          string   `json:"desktop"`
}

func TestNotificationSettings(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	ann := s.Register(t, "ann")
	var got settings
	res := s.Do(t, "GET", "/api/me/settings", ann.AccessToken, nil)
	res.JSON(t, &got)
	if res.Status != http.StatusOK || got.Desktop != "mentions" || !got.NotifySound || got.MutedChannels == nil {
		t.Fatalf("defaults: %d %+v", res.Status, got)
	}
	b := jsclient.Start(t)
	other := b.Connect(s.URL, ann.AccessToken, jsclient.Options{}) // another tab
	if _, err := other.WaitConnected(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	put := settings{MutedChannels: []string{"12", "11", "12"}, MutedServers: []string{}, SuppressEveryone: []string{"5"}, Desktop: "all"}
	res = s.Do(t, "PUT", "/api/me/settings", ann.AccessToken, put)
	res.JSON(t, &got)
	if res.Status != http.StatusOK || len(got.MutedChannels) != 2 || got.MutedChannels[0] != "11" || got.NotifySound || got.Desktop != "all" {
		t.Fatalf("PUT: %d %s", res.Status, res.Body)
	}
	if _, err := other.WaitEvents("settings:update", 1, 10*time.Second); err != nil {
		t.Fatalf("the other tab was not told: %v", err)
	}
	s.Do(t, "GET", "/api/me/settings", ann.AccessToken, nil).JSON(t, &got)
	if got.Desktop != "all" || len(got.SuppressEveryone) != 1 {
		t.Fatalf("GET after PUT: %+v", got)
	}
	for _, bad := range []any{
		settings{Desktop: "loud"},
		settings{Desktop: "all", MutedChannels: []string{"x"}},
		map[string]any{"desktop": "all", "mutedServers": make([]string, 501)},
		"not json",
	} {
		if res := s.Do(t, "PUT", "/api/me/settings", ann.AccessToken, bad); res.Status != http.StatusBadRequest {
			t.Errorf("PUT %v: %d %s, want 400", bad, res.Status, res.Body)
		}
	}
	if res := s.Do(t, "GET", "/api/me/settings", "", nil); res.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", res.Status)
	}
}
