// Package settings keeps each user's notification preferences (mutes, @everyone suppression, sound, desktop
// notifications) and chosen presence status so that every device of theirs behaves alike, and tells their other
// tabs when they change (each tab then tells presence what the user chose).
package settings

import (
	"context"
	"slices"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Store persists settings (MongoDB: one small document per user).
type Store interface {
	Get(ctx context.Context, userID int64) (model.UserSettings, bool, error)
	Put(ctx context.Context, userID int64, s model.UserSettings) error
}

// Notifier tells a user's sockets that their settings changed.
type Notifier interface {
	SettingsChanged(userID int64, s model.UserSettings)
}

// MaxIDs bounds each list of ids.
const MaxIDs = 500

// Defaults are the settings of a user who never changed any: desktop notifications for mentions and DMs,
// with a sound.
var Defaults = model.UserSettings{NotifySound: true, Desktop: model.NotifyMentions, Status: model.StatusOnline}

// Service reads and writes settings.
type Service struct {
	store  Store
	notify Notifier
}

func New(store Store, notify Notifier) *Service { return &Service{store: store, notify: notify} }

// Get returns the user's settings (the defaults if they never saved any).
func (s *Service) Get(ctx context.Context, userID int64) (model.UserSettings, error) {
	ctx, span := tracing.Start(ctx, "settings.Get")
	defer span.End()
	st, found, err := s.store.Get(ctx, userID)
	if err != nil {
		return st, apperr.Wrap(apperr.Unavailable, err, "settings are unavailable right now")
	}
	if !found {
		st = Defaults
	}
	return normalize(st), nil
}

// Put validates and saves the user's settings, and tells their other sockets.
func (s *Service) Put(ctx context.Context, userID int64, st model.UserSettings) (model.UserSettings, error) {
	ctx, span := tracing.Start(ctx, "settings.Put")
	defer span.End()
	switch st.Desktop {
	case model.NotifyAll, model.NotifyMentions, model.NotifyNone:
	default:
		return st, apperr.InvalidField("desktop", `desktop must be "all", "mentions" or "none"`)
	}
	switch st.Status {
	case "", model.StatusOnline, model.StatusIdle, model.StatusDND, model.StatusInvisible:
	default:
		return st, apperr.InvalidField("status", `status must be "online", "idle", "dnd" or "invisible"`)
	}
	for field, ids := range map[string][]int64{"mutedChannels": st.MutedChannels, "mutedServers": st.MutedServers, "suppressEveryone": st.SuppressEveryone} {
		if len(ids) > MaxIDs {
			return st, apperr.InvalidField(field, field+" may list at most 500 ids")
		}
	}
	st = normalize(st)
	if err := s.store.Put(ctx, userID, st); err != nil {
		return st, apperr.Wrap(apperr.Unavailable, err, "settings could not be saved; retry")
	}
	s.notify.SettingsChanged(userID, st)
	return st, nil
}

// normalize sorts the id lists and drops duplicates, so equal settings compare equal; no status is online.
func normalize(st model.UserSettings) model.UserSettings {
	if st.Status == "" {
		st.Status = model.StatusOnline
	}
	for _, ids := range []*[]int64{&st.MutedChannels, &st.MutedServers, &st.SuppressEveryone} {
		l := slices.Clone(*ids)
		slices.Sort(l)
		*ids = slices.Compact(l)
		if *ids == nil {
			*ids = []int64{}
		}
	}
	return st
}
