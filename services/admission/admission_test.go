package admission

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/repositories/keysclient"
)

// fakeKeys is the key service as the chat server sees it: groups bound to channels, and what it was asked.
type fakeKeys struct {
	groups   map[string]int64 // group → channel
	admitErr error
	lookups  int
	admitted map[string]int
	tokens   []string
}

func (f *fakeKeys) Group(_ context.Context, token, groupID string) (keysclient.Group, error) {
	f.lookups++
	f.tokens = append(f.tokens, token)
	ch, ok := f.groups[groupID]
	if !ok {
		return keysclient.Group{}, apperr.New(apperr.NotFound, "group not found")
	}
	return keysclient.Group{ID: groupID, ChannelID: ch}, nil
}

func (f *fakeKeys) AdmitMessage(_ context.Context, token, groupID string, epoch uint64) (keysclient.Group, error) {
	f.tokens = append(f.tokens, token)
	if f.admitErr != nil {
		return keysclient.Group{}, f.admitErr
	}
	f.admitted[groupID]++
	return keysclient.Group{ID: groupID, ChannelID: f.groups[groupID], Epoch: int64(epoch)}, nil
}

type fakeTokens struct{ err error }

func (f fakeTokens) Issue(userID, sessionID int64) (string, time.Time, error) {
	return "token-" + string(rune('0'+userID)) + "-" + string(rune('0'+sessionID)), time.Time{}, f.err
}

func message(group string, epoch uint64, contentType byte) string {
	out := []byte{0, 1, 0, 2, byte(len(group))}
	out = append(out, group...)
	out = binary.BigEndian.AppendUint64(out, epoch)
	out = append(out, contentType, 0, 1, 9, 1, 9)
	return base64.StdEncoding.EncodeToString(out)
}

func TestAdmit(t *testing.T) {
	g, other := "group-of-the-dm-1", "group-of-another"
	gid, otherID := base64.RawURLEncoding.EncodeToString([]byte(g)), base64.RawURLEncoding.EncodeToString([]byte(other))
	keys := &fakeKeys{groups: map[string]int64{gid: 10, otherID: 20}, admitted: map[string]int{}}
	s := New(keys, fakeTokens{}, nil)
	ctx := context.Background()

	// Counted, as the sender's session; the group's binding is looked up once.
	for i := 0; i < 3; i++ {
		if err := s.Admit(ctx, 1, 2, 10, message(g, 4, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if keys.admitted[gid] != 3 || keys.lookups != 1 || keys.tokens[0] != "token-1-2" {
		t.Fatalf("admitted %d, looked up %d times, tokens %v", keys.admitted[gid], keys.lookups, keys.tokens[:1])
	}
	// Another DM's group is refused before it is counted (also once its binding is cached).
	for i := 0; i < 2; i++ {
		if err := s.Admit(ctx, 1, 2, 10, message(other, 0, 1)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("another DM's group: %v", err)
		}
	}
	if keys.admitted[otherID] != 0 {
		t.Fatal("another DM's group was counted")
	}
	for name, ct := range map[string]string{"not base64": "!!", "not MLS": base64.StdEncoding.EncodeToString([]byte("hello")),
		"a commit": message(g, 4, 3), "an unknown group": message("no-such-group-here", 0, 1)} {
		if err := s.Admit(ctx, 1, 2, 10, ct); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The key service's refusals pass through; "not found" (removed since) is the sender's bad input.
	for _, kind := range []apperr.Kind{apperr.RotationOverdue, apperr.StaleEpoch, apperr.Unavailable} {
		keys.admitErr = apperr.New(kind, "no")
		if err := s.Admit(ctx, 1, 2, 10, message(g, 4, 1)); !apperr.Is(err, kind) {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	keys.admitErr = apperr.New(apperr.NotFound, "group not found")
	if err := s.Admit(ctx, 1, 2, 10, message(g, 4, 1)); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("not a member any more: %v", err)
	}
	// The binding lookup failing (key service down) is unavailable, and nothing is cached.
	keys.admitErr = nil
	fresh := New(downKeys{}, fakeTokens{}, nil)
	if err := fresh.Admit(ctx, 1, 2, 10, message(g, 4, 1)); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("lookup while down: %v", err)
	}
	if len(fresh.bindings) != 0 {
		t.Fatal("a failed lookup was cached")
	}
	// A token that cannot be minted is an internal error, nothing asked.
	if err := New(keys, fakeTokens{err: errors.New("no key")}, nil).Admit(ctx, 1, 2, 10, message(g, 4, 1)); !apperr.Is(err, apperr.Internal) {
		t.Fatalf("token: %v", err)
	}
}

// The bindings are bounded: when full they start over (and are looked up again).
func TestBindingsAreBounded(t *testing.T) {
	keys := &fakeKeys{groups: map[string]int64{}, admitted: map[string]int{}}
	s := New(keys, fakeTokens{}, nil)
	for i := 0; i < maxBindings; i++ {
		s.bindings[string(rune(i))+"-x"] = 1
	}
	g := "group-of-the-dm-1"
	keys.groups[base64.RawURLEncoding.EncodeToString([]byte(g))] = 10
	if err := s.Admit(context.Background(), 1, 2, 10, message(g, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if len(s.bindings) != 1 {
		t.Fatalf("%d bindings after overflow, want 1", len(s.bindings))
	}
}

type downKeys struct{}

func (downKeys) Group(context.Context, string, string) (keysclient.Group, error) {
	return keysclient.Group{}, apperr.New(apperr.Unavailable, "down")
}
func (downKeys) AdmitMessage(context.Context, string, string, uint64) (keysclient.Group, error) {
	return keysclient.Group{}, apperr.New(apperr.Unavailable, "down")
}
