package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// directory: channel 10 (server 1) is readable by users 1 (alice, owner), 2 (bob), 3 (Carol.B); user 4 (dave)
// exists elsewhere. Server 1 has #general (10) and #random-stuff (11).
type directory struct{ calls int }

var dirUsers = []model.User{{ID: 1, Username: "alice"}, {ID: 2, Username: "bob"}, {ID: 3, Username: "Carol.B"}}

func (d *directory) ChannelReaders(_ context.Context, _ int64, names []string, ids []int64) ([]model.User, error) {
	d.calls++
	var out []model.User
	for _, u := range dirUsers {
		if (names == nil && ids == nil) || slices.Contains(names, strings.ToLower(u.Username)) || slices.Contains(ids, u.ID) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (d *directory) ServerChannels(context.Context, int64) ([]model.Channel, error) {
	return []model.Channel{{ID: 10, Name: "general"}, {ID: 11, Name: "random-stuff"}}, nil
}

type online map[int64]bool

func (o online) Get(_ context.Context, _ int64, ids []int64) ([]model.Presence, error) {
	var out []model.Presence
	for _, id := range ids {
		st := model.StatusOffline
		if o[id] {
			st = model.StatusOnline
		}
		out = append(out, model.Presence{UserID: id, Status: st})
	}
	return out, nil
}

// roles: user 1 owns the server, the others are members; channel 20 is a DM.
type roles struct{}

// ReadableChannelIDs is not known to this fake: a sync checks each channel.
func (roles) ReadableChannelIDs(context.Context, int64) ([]int64, error) {
	return nil, errors.New("not listed")
}

func (roles) CanRead(_ context.Context, userID, channelID int64) (model.Channel, string, error) {
	if userID == 4 {
		return model.Channel{}, "", apperr.New(apperr.NotFound, "channel not found")
	}
	if channelID == 20 {
		return model.Channel{ID: 20, Kind: model.ChannelDM}, model.RoleMember, nil
	}
	role := model.RoleMember
	if userID == 1 {
		role = model.RoleOwner
	}
	return model.Channel{ID: channelID, Kind: model.ChannelText, ServerID: 1}, role, nil
}

func TestMentionsAreResolvedAndStored(t *testing.T) {
	store := newFakeStore()
	ids, _ := snowflake.New(1)
	dir := &directory{}
	s := New(store, roles{}, &recorder{}, nil, ids, Config{FlushDelay: time.Millisecond, SendRate: time.Microsecond, SendBurst: 1000,
		Mentions: dir, Online: online{3: true}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	cases := []struct {
		user, channel int64
		in, content   string
		mentions      []int64
		everyone      bool
	}{
		{2, 10, "hi @alice and @Carol.B.", "hi <@1> and <@3>.", []int64{1, 3}, false},
		{2, 10, "<@3> <@4> <@999> @nobody", "<@3> <@4> <@999> @nobody", []int64{3}, false}, // only readers count
		{2, 10, "see #random-stuff and #nope, mail me@bob.com", "see <#11> and #nope, mail me@bob.com", nil, false},
		{2, 10, "`@alice` ```\n@bob\n``` @bob", "`@alice` ```\n@bob\n``` <@2>", nil, false}, // code is text; own name is no mention
		{2, 10, "@everyone @here", "@everyone @here", nil, false},                           // members may not
		{1, 10, "@everyone look", "@everyone look", nil, true},                              // the owner may
		{1, 10, "@here look", "@here look", []int64{3}, false},                              // online readers
		{2, 20, "@everyone in a DM", "@everyone in a DM", nil, true},                        // anyone in a DM
		{2, 10, "no mentions at all", "no mentions at all", nil, false},
	}
	for i, c := range cases {
		r := wait(t, send(t, s, c.user, c.channel, c.in, fmt.Sprint("n", i)), 2*time.Second)
		if r.err != nil {
			t.Fatalf("%q: %v", c.in, r.err)
		}
		got := store.msgs[r.msg.ID]
		if got.Content != c.content || !slices.Equal(got.Mentions, c.mentions) || got.MentionEveryone != c.everyone {
			t.Errorf("%q stored as %q mentions %v everyone %v; want %q %v %v", c.in, got.Content, got.Mentions, got.MentionEveryone, c.content, c.mentions, c.everyone)
		}
	}
	calls := dir.calls
	wait(t, send(t, s, 2, 10, "plain text", "plain"), 2*time.Second)
	if dir.calls != calls {
		t.Error("a message without @ or # looked mentions up")
	}

	// An edit re-resolves: the new text's mentions replace the old ones.
	first := store.sorted(10)[0]
	m, err := s.Edit(context.Background(), 2, 10, first.ID, "now @bob? no: @Carol.B", false)
	if err != nil || m.Content != "now <@2>? no: <@3>" || !slices.Equal(m.Mentions, []int64{3}) {
		t.Fatalf("edit: %+v %v", m, err)
	}
	if got := store.msgs[first.ID]; !slices.Equal(got.Mentions, []int64{3}) {
		t.Errorf("stored after the edit: %v", got.Mentions)
	}

	// Mention counts: alice (1) is mentioned by the first message (since edited away) … count what is stored now.
	unread, mentions, err := s.CountAfter(context.Background(), 10, 0, 3, nil, 100)
	if err != nil || unread == 0 || mentions != 4 {
		t.Errorf("CountAfter for Carol = %d unread, %d mentions (%v); want 4 mentions (edit, <@3>, @everyone, @here)", unread, mentions, err)
	}
	// A user Carol blocks counts neither as unread nor as a mention for her.
	if u2, m2, err := s.CountAfter(context.Background(), 10, 0, 3, []int64{1, 2}, 100); err != nil || u2 != 0 || m2 != 0 {
		t.Errorf("CountAfter for Carol, who blocks alice and bob = %d unread, %d mentions (%v); want 0, 0", u2, m2, err)
	}
	if _, mentions, _ := s.CountAfter(context.Background(), 10, 0, 1, nil, 100); mentions != 0 {
		t.Errorf("alice has %d mentions: her own @everyone and @here do not count, and the edit dropped her", mentions)
	}
}
