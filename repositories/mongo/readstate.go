package mongo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/model"
)

// ReadStateStore keeps each user's read and delivery position per channel. Positions only move forward:
// writes use $max, so late or repeated updates can never move them back.
type ReadStateStore struct{ coll *mongo.Collection }

func NewReadStateStore(db *mongo.Database) *ReadStateStore {
	return &ReadStateStore{coll: db.Collection("read_states")}
}

type readStateDoc struct {
	ID              string    `bson:"_id"`
	UserID          int64     `bson:"userId"`
	ChannelID       int64     `bson:"channelId"`
	LastReadID      int64     `bson:"lastReadId"`
	LastDeliveredID int64     `bson:"lastDeliveredId"`
	UpdatedAt       time.Time `bson:"updatedAt"`
}

func (d readStateDoc) model() model.ReadState {
	return model.ReadState{UserID: d.UserID, ChannelID: d.ChannelID, LastReadID: d.LastReadID, LastDeliveredID: d.LastDeliveredID, UpdatedAt: d.UpdatedAt.UTC()}
}

// Advance applies coalesced positions (one upsert per user and channel).
func (s *ReadStateStore) Advance(ctx context.Context, states []model.ReadState) error {
	for _, st := range states {
		id := strconv.FormatInt(st.UserID, 10) + ":" + strconv.FormatInt(st.ChannelID, 10)
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{
			{Key: "$max", Value: bson.D{{Key: "lastReadId", Value: st.LastReadID}, {Key: "lastDeliveredId", Value: st.LastDeliveredID}, {Key: "updatedAt", Value: st.UpdatedAt}}},
			{Key: "$set", Value: bson.D{{Key: "userId", Value: st.UserID}, {Key: "channelId", Value: st.ChannelID}}},
		}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("mongo: writing read state: %w", err)
		}
	}
	return nil
}

func (s *ReadStateStore) find(ctx context.Context, filter bson.D) ([]model.ReadState, error) {
	cur, err := s.coll.Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: reading read state: %w", err)
	}
	var docs []readStateDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: reading read state: %w", err)
	}
	out := make([]model.ReadState, len(docs))
	for i, d := range docs {
		out[i] = d.model()
	}
	return out, nil
}

// ForUser returns a user's positions in the given channels.
func (s *ReadStateStore) ForUser(ctx context.Context, userID int64, channelIDs []int64) ([]model.ReadState, error) {
	if len(channelIDs) == 0 {
		return nil, nil
	}
	return s.find(ctx, bson.D{{Key: "userId", Value: userID}, {Key: "channelId", Value: bson.D{{Key: "$in", Value: channelIDs}}}})
}

// ForChannel returns every member's position in a channel.
func (s *ReadStateStore) ForChannel(ctx context.Context, channelID int64) ([]model.ReadState, error) {
	return s.find(ctx, bson.D{{Key: "channelId", Value: channelID}})
}
