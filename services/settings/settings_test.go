package settings_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/services/settings"
)

// recorder is the socket layer: it keeps what each user's tabs were told.
type recorder struct {
	mu   sync.Mutex
	sent map[int64][]model.UserSettings
}

func (r *recorder) SettingsChanged(userID int64, s model.UserSettings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[int64][]model.UserSettings{}
	}
	r.sent[userID] = append(r.sent[userID], s)
}

func (r *recorder) told(userID int64) []model.UserSettings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent[userID]
}

func TestNewUsersGetTheDefaults(t *testing.T) {
	t.Parallel()
	svc := settings.New(mongorepo.NewSettingsStore(testenv.Mongo(t)), &recorder{})
	got, err := svc.Get(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	want := model.UserSettings{MutedChannels: []int64{}, MutedServers: []int64{}, SuppressEveryone: []int64{},
		NotifySound: true, Desktop: model.NotifyMentions, Status: model.StatusOnline}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("settings of a user who never saved any: %+v, want %+v", got, want)
	}
}

func TestSavedSettingsAreNormalizedPersistedAndAnnounced(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t)
	rec := &recorder{}
	svc := settings.New(mongorepo.NewSettingsStore(db), rec)
	ctx := context.Background()
	in := model.UserSettings{MutedChannels: []int64{30, 10, 30, 20}, MutedServers: []int64{7, 7}, NotifySound: false,
		Desktop: model.NotifyAll, Status: model.StatusDND}
	saved, err := svc.Put(ctx, 1, in)
	if err != nil {
		t.Fatal(err)
	}
	want := model.UserSettings{MutedChannels: []int64{10, 20, 30}, MutedServers: []int64{7}, SuppressEveryone: []int64{},
		NotifySound: false, Desktop: model.NotifyAll, Status: model.StatusDND}
	if !reflect.DeepEqual(saved, want) {
		t.Fatalf("Put returned %+v, want sorted lists without duplicates: %+v", saved, want)
	}
	if told := rec.told(1); len(told) != 1 || !reflect.DeepEqual(told[0], want) {
		t.Fatalf("the user's tabs were told %+v, want once %+v", told, want)
	}
	// A new Service on the same database (another node, or after a restart) reads what was saved.
	got, err := settings.New(mongorepo.NewSettingsStore(db), &recorder{}).Get(ctx, 1)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	// Another user is untouched.
	if other, _ := svc.Get(ctx, 2); other.Desktop != model.NotifyMentions || !other.NotifySound {
		t.Fatalf("user 2 got user 1's settings: %+v", other)
	}
	// No status saved means online; saving replaces the whole document (the old mutes are gone).
	if _, err := svc.Put(ctx, 1, model.UserSettings{Desktop: model.NotifyNone}); err != nil {
		t.Fatal(err)
	}
	got, _ = svc.Get(ctx, 1)
	if got.Status != model.StatusOnline || len(got.MutedChannels) != 0 || got.Desktop != model.NotifyNone {
		t.Fatalf("after the second save: %+v", got)
	}
}

func TestBadSettingsAreRefusedAndNothingIsSaved(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	svc := settings.New(mongorepo.NewSettingsStore(testenv.Mongo(t)), rec)
	ctx := context.Background()
	good := model.UserSettings{Desktop: model.NotifyAll, MutedChannels: []int64{5}}
	if _, err := svc.Put(ctx, 1, good); err != nil {
		t.Fatal(err)
	}
	tooMany := make([]int64, settings.MaxIDs+1)
	for i := range tooMany {
		tooMany[i] = int64(i + 1)
	}
	for field, bad := range map[string]model.UserSettings{
		"desktop":          {Desktop: "sometimes"},
		"status":           {Desktop: model.NotifyAll, Status: "busy"},
		"mutedChannels":    {Desktop: model.NotifyAll, MutedChannels: tooMany},
		"mutedServers":     {Desktop: model.NotifyAll, MutedServers: tooMany},
		"suppressEveryone": {Desktop: model.NotifyAll, SuppressEveryone: tooMany},
	} {
		_, err := svc.Put(ctx, 1, bad)
		if e := apperr.As(err); e == nil || e.Kind != apperr.Invalid || e.Field != field {
			t.Errorf("%s: %v, want invalid_input on field %q", field, err, field)
		}
	}
	// Exactly MaxIDs is allowed.
	if _, err := svc.Put(ctx, 2, model.UserSettings{Desktop: model.NotifyAll, MutedChannels: tooMany[:settings.MaxIDs]}); err != nil {
		t.Fatalf("%d muted channels: %v", settings.MaxIDs, err)
	}
	got, _ := svc.Get(ctx, 1)
	if got.Desktop != model.NotifyAll || !reflect.DeepEqual(got.MutedChannels, []int64{5}) {
		t.Fatalf("a refused save changed the stored settings: %+v", got)
	}
	if n := len(rec.told(1)); n != 1 {
		t.Fatalf("%d announcements for user 1, want 1 (refused saves announce nothing)", n)
	}
}

// A MongoDB that cannot answer gives a retryable unavailable, and the user's tabs are not told of a change that
// was not saved.
func TestSettingsStoreOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	testenv.Mongo(t) // skips or fails like every database test when MongoDB is not running
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongorepo.Connect(ctx, testenv.MongoURI())
	if err != nil {
		t.Fatal(err)
	}
	db := client.Database(testenv.UniqueName("test"))
	if err := client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	svc := settings.New(mongorepo.NewSettingsStore(db), rec)
	if _, err := svc.Get(ctx, 1); !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("Get: %v, want unavailable", err)
	}
	if _, err := svc.Put(ctx, 1, model.UserSettings{Desktop: model.NotifyAll}); !apperr.Is(err, apperr.Unavailable) || !apperr.As(err).Retryable() {
		t.Fatalf("Put: %v, want a retryable unavailable", err)
	}
	if len(rec.told(1)) != 0 {
		t.Fatal("a save that failed was announced")
	}
}
