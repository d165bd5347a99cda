package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/parleychat/parley/internal/model"
)

// ReactionStore keeps one small document per (message, user, emoji):
// {_id: "<messageId>:<userId>:<emoji>", channelId, messageId, userId, emoji, createdAt}. Adding is an insert
// (a duplicate means "already there"), removing a delete by _id: no document is ever read, modified and
// written back, so writers on several nodes cannot lose each other's reactions (FerretDB does not make
// concurrent updates of one document atomic; a per-(message, emoji) array document loses $addToSet/$pullAll
// updates under concurrency there, see TestReactionsConcurrentWritersDoNotLoseReactions).
type ReactionStore struct{ coll *mongo.Collection }

func NewReactionStore(db *mongo.Database) *ReactionStore {
	return &ReactionStore{coll: db.Collection("reactions")}
}

type reactionDoc struct {
	ID        string    `bson:"_id"`
	ChannelID int64     `bson:"channelId"`
	MessageID int64     `bson:"messageId"`
	UserID    int64     `bson:"userId"`
	Emoji     string    `bson:"emoji"`
	CreatedAt time.Time `bson:"createdAt"`
}

func reactionID(messageID, userID int64, emoji string) string {
	return strconv.FormatInt(messageID, 10) + ":" + strconv.FormatInt(userID, 10) + ":" + emoji
}

// Apply writes a batch of coalesced changes: one unordered insertMany of every added reaction (those already
// stored are duplicates and stay as they are) and one deleteMany of every removed one. Both are idempotent,
// so a batch that failed half-way can simply be written again.
func (s *ReactionStore) Apply(ctx context.Context, changes []model.ReactionChange) error {
	var adds []any
	var removes []string
	for _, c := range changes {
		if c.Add {
			adds = append(adds, reactionDoc{ID: reactionID(c.MessageID, c.UserID, c.Emoji), ChannelID: c.ChannelID, MessageID: c.MessageID,
				UserID: c.UserID, Emoji: c.Emoji, CreatedAt: c.At.UTC()})
		} else {
			removes = append(removes, reactionID(c.MessageID, c.UserID, c.Emoji))
		}
	}
	for len(adds) > 0 {
		n := min(len(adds), 500)
		if _, err := s.coll.InsertMany(ctx, adds[:n], options.InsertMany().SetOrdered(false)); err != nil && !onlyDuplicates(err) {
			return fmt.Errorf("mongo: adding reactions: %w", err)
		}
		adds = adds[n:]
	}
	for len(removes) > 0 {
		n := min(len(removes), 500)
		if _, err := s.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: removes[:n]}}}}); err != nil {
			return fmt.Errorf("mongo: removing reactions: %w", err)
		}
		removes = removes[n:]
	}
	return nil
}

// onlyDuplicates reports whether every error of a bulk insert is a duplicate key (the reaction was stored).
func onlyDuplicates(err error) bool {
	var bw mongo.BulkWriteException
	if !errors.As(err, &bw) || bw.WriteConcernError != nil || len(bw.WriteErrors) == 0 {
		return false
	}
	for _, we := range bw.WriteErrors {
		if we.Code != 11000 {
			return false
		}
	}
	return true
}

// ForMessages returns the reactions of the given messages: per message its emoji in the order they were first
// used, each with its users in the order they reacted.
func (s *ReactionStore) ForMessages(ctx context.Context, messageIDs []int64) ([]model.Reaction, error) {
	if len(messageIDs) == 0 {
		return nil, nil
	}
	// One message (every reaction change reads one) by plain equality: FerretDB turns that into an indexed
	// Postgres filter, while it filters $in itself after reading the whole collection (MongoDB uses the index either way).
	filter := bson.D{{Key: "messageId", Value: bson.D{{Key: "$in", Value: messageIDs}}}}
	if len(messageIDs) == 1 {
		filter = bson.D{{Key: "messageId", Value: messageIDs[0]}}
	}
	docs, err := s.find(ctx, filter, nil)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(docs, func(a, b reactionDoc) int {
		if a.MessageID != b.MessageID {
			return cmpInt(a.MessageID, b.MessageID)
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmpInt(a.UserID, b.UserID)
	})
	var out []model.Reaction
	index := map[[2]string]int{} // (message, emoji) → position in out
	for _, d := range docs {
		k := [2]string{strconv.FormatInt(d.MessageID, 10), d.Emoji}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, model.Reaction{ChannelID: d.ChannelID, MessageID: d.MessageID, Emoji: d.Emoji})
		}
		out[i].UserIDs = append(out[i].UserIDs, d.UserID)
	}
	return out, nil
}

// Users pages through who reacted to a message with an emoji, by user id: up to limit ids greater than after.
func (s *ReactionStore) Users(ctx context.Context, messageID int64, emoji string, after int64, limit int) ([]int64, error) {
	docs, err := s.find(ctx, bson.D{{Key: "messageId", Value: messageID}, {Key: "emoji", Value: emoji}, {Key: "userId", Value: bson.D{{Key: "$gt", Value: after}}}},
		options.Find().SetSort(bson.D{{Key: "userId", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(docs))
	for i, d := range docs {
		out[i] = d.UserID
	}
	return out, nil
}

func (s *ReactionStore) find(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]reactionDoc, error) {
	if opts == nil {
		opts = options.Find()
	}
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: reading reactions: %w", err)
	}
	var docs []reactionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongo: reading reactions: %w", err)
	}
	return docs, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
