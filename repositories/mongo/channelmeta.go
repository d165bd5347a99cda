package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/model"
)

// ChannelMetaStore keeps the traffic-driven part of channels: last message, message count, topic, pins.
type ChannelMetaStore struct{ coll *mongo.Collection }

func NewChannelMetaStore(db *mongo.Database) *ChannelMetaStore {
	return &ChannelMetaStore{coll: db.Collection("channel_meta")}
}

type channelMetaDoc struct {
	ID            int64     `bson:"_id"`
	LastMessageID int64     `bson:"lastMessageId"`
	LastMessageAt time.Time `bson:"lastMessageAt"`
	MessageCount  int64     `bson:"messageCount"`
	Topic         string    `bson:"topic"`
	Pinned        []int64   `bson:"pinned"`
}

// SetTopic sets a channel's topic, creating its document if needed.
func (s *ChannelMetaStore) SetTopic(ctx context.Context, channelID int64, topic string) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: channelID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "topic", Value: topic}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: setting topic: %w", err)
	}
	return nil
}

// RecordActivity applies coalesced traffic: one upsert per channel with $max and $inc, both safe to apply in
// any order (FerretDB hangs on large bulkWrites of upserts, so these are single updates).
func (s *ChannelMetaStore) RecordActivity(ctx context.Context, acts []model.ChannelActivity) error {
	for _, a := range acts {
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ChannelID}}, bson.D{
			{Key: "$max", Value: bson.D{{Key: "lastMessageId", Value: a.LastMessageID}, {Key: "lastMessageAt", Value: a.LastMessageAt}}},
			{Key: "$inc", Value: bson.D{{Key: "messageCount", Value: a.Count}}},
		}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("mongo: recording channel activity: %w", err)
		}
	}
	return nil
}

// Get returns the metadata of the given channels (missing ones are absent from the map).
func (s *ChannelMetaStore) Get(ctx context.Context, channelIDs []int64) (map[int64]model.ChannelMeta, error) {
	out := make(map[int64]model.ChannelMeta, len(channelIDs))
	if len(channelIDs) == 0 {
		return out, nil
	}
	cur, err := s.coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: channelIDs}}}})
	if err != nil {
		return nil, fmt.Errorf("mongo: loading channel metadata: %w", err)
	}
	var docs []channelMetaDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: loading channel metadata: %w", err)
	}
	for _, d := range docs {
		out[d.ID] = model.ChannelMeta{ChannelID: d.ID, LastMessageID: d.LastMessageID, LastMessageAt: d.LastMessageAt.UTC(),
			MessageCount: d.MessageCount, Topic: d.Topic, Pinned: d.Pinned}
	}
	return out, nil
}

// Delete removes the metadata of deleted channels.
func (s *ChannelMetaStore) Delete(ctx context.Context, channelIDs []int64) error {
	if len(channelIDs) == 0 {
		return nil
	}
	_, err := s.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: channelIDs}}}})
	return err
}

// Pin adds a message to a channel's pins; added is false when it was pinned already.
func (s *ChannelMetaStore) Pin(ctx context.Context, channelID, messageID int64) (bool, error) {
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: channelID}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "pinned", Value: messageID}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return false, fmt.Errorf("mongo: pinning: %w", err)
	}
	return res.ModifiedCount > 0 || res.UpsertedCount > 0, nil
}

// Unpin removes a message from a channel's pins; removed is false when it was not pinned.
func (s *ChannelMetaStore) Unpin(ctx context.Context, channelID, messageID int64) (bool, error) {
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: channelID}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "pinned", Value: messageID}}}})
	if err != nil {
		return false, fmt.Errorf("mongo: unpinning: %w", err)
	}
	return res.ModifiedCount > 0, nil
}
