package community

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/parleychat/parley/internal/model"
)

// sizeStore answers Server from a map; every other Store method is left unimplemented (the test must not call them).
type sizeStore struct {
	Store
	servers map[int64]model.Server
	err     error
}

func (f *sizeStore) Server(_ context.Context, id int64) (model.Server, error) {
	if f.err != nil {
		return model.Server{}, f.err
	}
	s, ok := f.servers[id]
	if !ok {
		return model.Server{}, model.ErrNotFound
	}
	return s, nil
}

func TestServerSizes(t *testing.T) {
	st := &sizeStore{servers: map[int64]model.Server{1: {ID: 1, MemberCount: 2000}, 2: {ID: 2, MemberCount: 3}}}
	s := New(st, nil, nil, nil, nil, nil, Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	got, err := s.ServerSizes(context.Background(), []int64{1, 2, 99})
	if err != nil || len(got) != 2 || got[1] != 2000 || got[2] != 3 {
		t.Fatalf("sizes %v, %v: want 1→2000, 2→3, the unknown server left out", got, err)
	}
	if got, err := s.ServerSizes(context.Background(), nil); err != nil || len(got) != 0 {
		t.Fatalf("no servers: %v %v", got, err)
	}
	st.err = errors.New("postgres down")
	if _, err := s.ServerSizes(context.Background(), []int64{1}); !errors.Is(err, st.err) {
		t.Fatalf("a store failure must be returned, got %v", err)
	}
}

func TestChannelNamesAreNormalizedLikeDiscord(t *testing.T) {
	for in, want := range map[string]string{
		"Random Stuff!":      "random-stuff",
		"  off   topic  ":    "off-topic",
		"--a -- b--":         "a-b",
		"dev_ops 2":          "dev_ops-2",
		"Café Crème":         "café-crème",
		"日本語 チャンネル":          "日本語-チャンネル",
		"general":            "general",
		"🎉 party time 🎉":     "party-time",
		"C++ & Go (backend)": "c-go-backend",
		"a.b,c;d":            "abcd",
	} {
		got, err := normalizeChannelName(in)
		if err != nil || got != want {
			t.Errorf("normalizeChannelName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	long := ""
	for i := 0; i < 65; i++ {
		long += "a"
	}
	for _, bad := range []string{"", "   ", "!!!", "🎉", "- -", long} {
		if got, err := normalizeChannelName(bad); err == nil {
			t.Errorf("normalizeChannelName(%q) = %q, want an error", bad, got)
		}
	}
}
