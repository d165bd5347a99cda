package mongo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/model"
)

// PresenceStore keeps one document per (user, server node), written when that user's status on the node changes,
// and one heartbeat document per node (collection presence_nodes). A node heartbeats its own document, not its
// users': refreshing every connected user's entry cost one write per user per heartbeat (measured: 1,000 updates
// every 20 s for 1,000 users, the largest MongoDB writer left in the chat benchmark; on a real deployment a node's
// whole population every interval). An entry is as fresh as the later of its own write and its node's heartbeat;
// entries of a node that stopped heartbeating are swept to offline by any other node (FerretDB has no TTL indexes,
// so expiry is done by the application). Entries of a node without a heartbeat document (an older build that
// refreshed its entries itself) are judged by their own heartbeatAt, as before.
type PresenceStore struct{ coll, nodes *mongo.Collection }

func NewPresenceStore(db *mongo.Database) *PresenceStore {
	return &PresenceStore{coll: db.Collection("presence"), nodes: db.Collection("presence_nodes")}
}

type nodeBeatDoc struct {
	ID          int64     `bson:"_id"`
	HeartbeatAt time.Time `bson:"heartbeatAt"`
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

// Heartbeat records that a node is still there (one document per node; $max: a delayed write never moves it back).
func (s *PresenceStore) Heartbeat(ctx context.Context, nodeID int64, now time.Time) error {
	_, err := s.nodes.UpdateOne(ctx, bson.D{{Key: "_id", Value: nodeID}}, bson.D{{Key: "$max", Value: bson.D{{Key: "heartbeatAt", Value: now}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: presence heartbeat: %w", err)
	}
	return nil
}

// beats returns the last heartbeat of the given nodes (all nodes when ids is nil); nodes that never heartbeated
// are absent.
func (s *PresenceStore) beats(ctx context.Context, ids []int64) (map[int64]time.Time, error) {
	filter := bson.D{}
	if ids != nil {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	}
	cur, err := s.nodes.Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("mongo: reading node heartbeats: %w", err)
	}
	var docs []nodeBeatDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: reading node heartbeats: %w", err)
	}
	out := make(map[int64]time.Time, len(docs))
	for _, d := range docs {
		out[d.ID] = d.HeartbeatAt.UTC()
	}
	return out, nil
}

// SweepStale turns offline the entries of nodes that stopped heartbeating before `before` (and entries of nodes
// with no heartbeat document whose own heartbeatAt is older) and returns the affected user ids.
func (s *PresenceStore) SweepStale(ctx context.Context, before time.Time) ([]int64, error) {
	beats, err := s.beats(ctx, nil)
	if err != nil {
		return nil, err
	}
	live := []int64{}
	for id, at := range beats {
		if !at.Before(before) {
			live = append(live, id)
		}
	}
	return s.sweep(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: model.StatusOffline}}}, {Key: "heartbeatAt", Value: bson.D{{Key: "$lt", Value: before}}},
		{Key: "nodeId", Value: bson.D{{Key: "$nin", Value: live}}}}, beats)
}

// SweepNode turns one node's entries offline (the cluster saw its lease end) and returns the affected user
// ids. Entries written after `before` (the node came back) are left alone.
func (s *PresenceStore) SweepNode(ctx context.Context, nodeID int64, before time.Time) ([]int64, error) {
	beats, err := s.beats(ctx, []int64{nodeID})
	if err != nil {
		return nil, err
	}
	return s.sweep(ctx, bson.D{{Key: "nodeId", Value: nodeID}, {Key: "status", Value: bson.D{{Key: "$ne", Value: model.StatusOffline}}},
		{Key: "heartbeatAt", Value: bson.D{{Key: "$lt", Value: before}}}}, beats)
}

// sweep turns the matching entries offline, each with last seen at its node's last heartbeat (when that is later).
func (s *PresenceStore) sweep(ctx context.Context, filter bson.D, beats map[int64]time.Time) ([]int64, error) {
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
		set := bson.D{{Key: "status", Value: model.StatusOffline}}
		if at, ok := beats[d.NodeID]; ok && at.After(d.LastSeen) {
			set = append(set, bson.E{Key: "lastSeen", Value: at})
		}
		// One update per document, guarded by its old heartbeat, so an entry written meanwhile stays as written.
		res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "heartbeatAt", Value: d.HeartbeatAt}},
			bson.D{{Key: "$set", Value: set}})
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
	var nodeIDs []int64
	for _, d := range docs {
		if d.Status != model.StatusOffline && !slices.Contains(nodeIDs, d.NodeID) {
			nodeIDs = append(nodeIDs, d.NodeID)
		}
	}
	beats := map[int64]time.Time{}
	if len(nodeIDs) > 0 {
		if beats, err = s.beats(ctx, nodeIDs); err != nil {
			return nil, err
		}
	}
	out := make([]model.NodePresence, len(docs))
	for i, d := range docs {
		p := model.NodePresence{UserID: d.UserID, NodeID: d.NodeID, Status: d.Status, LastSeen: d.LastSeen.UTC(), HeartbeatAt: d.HeartbeatAt.UTC()}
		if at, ok := beats[d.NodeID]; ok && p.Status != model.StatusOffline {
			// A connected user is there as long as their node is: the node's heartbeat counts for the entry.
			if at.After(p.HeartbeatAt) {
				p.HeartbeatAt = at
			}
			if at.After(p.LastSeen) {
				p.LastSeen = at
			}
		}
		out[i] = p
	}
	return out, nil
}
