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

// SearchCheckpointStore keeps one small document per node: what its search indexer may not have written yet
// (services/search), rewritten every few seconds and read when a node starts.
type SearchCheckpointStore struct{ coll *mongo.Collection }

func NewSearchCheckpointStore(db *mongo.Database) *SearchCheckpointStore {
	return &SearchCheckpointStore{coll: db.Collection("search_checkpoints")}
}

// refDoc is one message (subdocuments: FerretDB refuses nested arrays).
type refDoc struct {
	Channel int64 `bson:"c"`
	ID      int64 `bson:"m"`
}

type checkpointDoc struct {
	Node     string    `bson:"_id"`
	Since    time.Time `bson:"since"`
	Messages []refDoc  `bson:"messages"`
	SavedAt  time.Time `bson:"savedAt"`
}

// Save replaces the node's checkpoint.
func (s *SearchCheckpointStore) Save(ctx context.Context, cp model.SearchCheckpoint) error {
	d := checkpointDoc{Node: cp.Node, Since: cp.Since.UTC(), Messages: []refDoc{}, SavedAt: cp.SavedAt.UTC().Truncate(time.Millisecond)}
	for _, m := range cp.Messages {
		d.Messages = append(d.Messages, refDoc{Channel: m.ChannelID, ID: m.ID})
	}
	if _, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cp.Node}}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("mongo: saving search checkpoint: %w", err)
	}
	return nil
}

// Load returns every node's checkpoint.
func (s *SearchCheckpointStore) Load(ctx context.Context) ([]model.SearchCheckpoint, error) {
	cur, err := s.coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongo: reading search checkpoints: %w", err)
	}
	var docs []checkpointDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: reading search checkpoints: %w", err)
	}
	out := make([]model.SearchCheckpoint, 0, len(docs))
	for _, d := range docs {
		cp := model.SearchCheckpoint{Node: d.Node, Since: d.Since, SavedAt: d.SavedAt}
		for _, m := range d.Messages {
			cp.Messages = append(cp.Messages, model.MessageRef{ChannelID: m.Channel, ID: m.ID})
		}
		out = append(out, cp)
	}
	return out, nil
}

// Delete removes the node's checkpoint if it was saved at savedAt (any, if savedAt is zero).
func (s *SearchCheckpointStore) Delete(ctx context.Context, node string, savedAt time.Time) error {
	filter := bson.D{{Key: "_id", Value: node}}
	if !savedAt.IsZero() {
		filter = append(filter, bson.E{Key: "savedAt", Value: savedAt.UTC().Truncate(time.Millisecond)})
	}
	if _, err := s.coll.DeleteOne(ctx, filter); err != nil {
		return fmt.Errorf("mongo: deleting search checkpoint: %w", err)
	}
	return nil
}
