package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/model"
)

// SettingsStore keeps each user's notification settings: one small document per user, replaced whole.
type SettingsStore struct{ coll *mongo.Collection }

func NewSettingsStore(db *mongo.Database) *SettingsStore {
	return &SettingsStore{coll: db.Collection("user_settings")}
}

type settingsDoc struct {
	ID               int64   `bson:"_id"`
	MutedChannels    []int64 `bson:"mutedChannels"`
	MutedServers     []int64 `bson:"mutedServers"`
	SuppressEveryone []int64 `bson:"suppressEveryone"`
	NotifySound      bool    `bson:"notifySound"`
	Desktop          string  `bson:"desktop"`
	Status           string  `bson:"status,omitempty"`
}

// Get returns a user's settings; found is false when they never saved any.
func (s *SettingsStore) Get(ctx context.Context, userID int64) (model.UserSettings, bool, error) {
	var d settingsDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return model.UserSettings{}, false, nil
	}
	if err != nil {
		return model.UserSettings{}, false, fmt.Errorf("mongo: reading settings: %w", err)
	}
	return model.UserSettings{MutedChannels: d.MutedChannels, MutedServers: d.MutedServers, SuppressEveryone: d.SuppressEveryone,
		NotifySound: d.NotifySound, Desktop: d.Desktop, Status: d.Status}, true, nil
}

// Put replaces a user's settings.
func (s *SettingsStore) Put(ctx context.Context, userID int64, st model.UserSettings) error {
	d := settingsDoc{ID: userID, MutedChannels: nonNil(st.MutedChannels), MutedServers: nonNil(st.MutedServers),
		SuppressEveryone: nonNil(st.SuppressEveryone), NotifySound: st.NotifySound, Desktop: st.Desktop, Status: st.Status}
	_, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: userID}}, d, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: writing settings: %w", err)
	}
	return nil
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
