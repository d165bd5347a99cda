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

// PresenceStore keeps one document per (user, server node). A node refreshes heartbeatAt for its users;
// documents of a node that stopped refreshing are swept to offline by any other node (FerretDB has no TTL
// indexes, so expiry is done by the application).
type PresenceStore struct{ coll *mongo.Collection }

func NewPresenceStore(db *mongo.Database) *PresenceStore {
	return &PresenceStore{coll: db.Collection("presence")}
}

type presenceDoc struct {
	ID          string    `bson:"_id"`
	UserID      int64     `bson:"userId"`
	NodeID      int64     `bson:"nodeId"`
	Status      string    `bson:"status"`
	LastSeen    time.Time `bson:"lastSeen"`
	HeartbeatAt time.Time `bson:"heartbeatAt"`
}

func presenceID(userID, nodeID int64) string {
	return strconv.FormatInt(userID, 10) + ":" + strconv.FormatInt(nodeID, 10)
}

// Put writes the latest state of some users on one node (one upsert each; callers coalesce).
func (s *PresenceStore) Put(ctx context.Context, entries []model.NodePresence) error {
	for _, e := range entries {
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: presenceID(e.UserID, e.NodeID)}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "userId", Value: e.UserID}, {Key: "nodeId", Value: e.NodeID}, {Key: "status", Value: e.Status},
			{Key: "lastSeen", Value: e.LastSeen}, {Key: "heartbeatAt", Value: e.HeartbeatAt},
		}}}, options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("mongo: writing presence: %w", err)
		}
	}
	return nil
}

// Heartbeat marks every connected user of a node as still there.
func (s *PresenceStore) Heartbeat(ctx context.Context, nodeID int64, now time.Time) error {
	_, err := s.coll.UpdateMany(ctx, bson.D{{Key: "nodeId", Value: nodeID}, {Key: "status", Value: bson.D{{Key: "$ne", Value: model.StatusOffline}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "heartbeatAt", Value: now}, {Key: "lastSeen", Value: now}}}})
	if err != nil {
		return fmt.Errorf("mongo: presence heartbeat: %w", err)
	}
	return nil
}

// SweepStale turns the entries of nodes that stopped heartbeating before `before` offline and returns the
// affected user ids.
func (s *PresenceStore) SweepStale(ctx context.Context, before time.Time) ([]int64, error) {
	return s.sweep(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: model.StatusOffline}}}, {Key: "heartbeatAt", Value: bson.D{{Key: "$lt", Value: before}}}})
}

// SweepNode turns one node's entries offline (the cluster saw its lease end) and returns the affected user
// ids. Entries written after `before` (the node came back) are left alone.
func (s *PresenceStore) SweepNode(ctx context.Context, nodeID int64, before time.Time) ([]int64, error) {
	return s.sweep(ctx, bson.D{{Key: "nodeId", Value: nodeID}, {Key: "status", Value: bson.D{{Key: "$ne", Value: model.StatusOffline}}},
		{Key: "heartbeatAt", Value: bson.D{{Key: "$lt", Value: before}}}})
}

func (s *PresenceStore) sweep(ctx context.Context, filter bson.D) ([]int64, error) {
	cur, err := s.coll.Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: finding stale presence: %w", err)
	}
	var docs []presenceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	var users []int64
	for _, d := range docs {
		// One update per document, guarded by its old heartbeat, so an entry refreshed meanwhile stays online.
		res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "heartbeatAt", Value: d.HeartbeatAt}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: model.StatusOffline}}}})
		if err != nil {
			return users, fmt.Errorf("mongo: sweeping presence: %w", err)
		}
		if res.ModifiedCount > 0 {
			users = append(users, d.UserID)
		}
	}
	return users, nil
}

// ForUsers returns every node's entry for the given users.
func (s *PresenceStore) ForUsers(ctx context.Context, userIDs []int64) ([]model.NodePresence, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	cur, err := s.coll.Find(ctx, bson.D{{Key: "userId", Value: bson.D{{Key: "$in", Value: userIDs}}}})
	if err != nil {
		return nil, fmt.Errorf("mongo: reading presence: %w", err)
	}
	var docs []presenceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]model.NodePresence, len(docs))
	for i, d := range docs {
		out[i] = model.NodePresence{UserID: d.UserID, NodeID: d.NodeID, Status: d.Status, LastSeen: d.LastSeen.UTC(), HeartbeatAt: d.HeartbeatAt.UTC()}
	}
	return out, nil
}
