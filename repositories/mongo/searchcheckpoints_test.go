package mongo_test

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	mongorepo "github.com/parleychat/parley/repositories/mongo"
)

func TestSearchCheckpoints(t *testing.T) {
	t.Parallel()
	s := mongorepo.NewSearchCheckpointStore(testenv.Mongo(t))
	ctx := testCtx(t)
	at := time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC)
	one := model.SearchCheckpoint{Node: "1", Since: at.Add(-time.Minute), SavedAt: at,
		Messages: []model.MessageRef{{ChannelID: 7, ID: 255386073717280769}, {ChannelID: 8, ID: 2}}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Save(ctx, one))
	must(s.Save(ctx, model.SearchCheckpoint{Node: "2", Since: at, SavedAt: at}))
	later := one
	later.SavedAt, later.Messages = at.Add(2*time.Second), nil
	must(s.Save(ctx, later)) // replaces node 1's
	got, err := s.Load(ctx)
	must(err)
	if len(got) != 2 {
		t.Fatalf("loaded %+v", got)
	}
	byNode := map[string]model.SearchCheckpoint{}
	for _, cp := range got {
		byNode[cp.Node] = cp
	}
	if cp := byNode["1"]; !cp.SavedAt.Equal(later.SavedAt.Truncate(time.Millisecond)) || !cp.Since.Equal(one.Since.Truncate(time.Millisecond)) || len(cp.Messages) != 0 {
		t.Fatalf("node 1: %+v", cp)
	}
	// Deleting what was loaded earlier does nothing once the node saved again; the current one goes.
	must(s.Delete(ctx, "1", at))
	if got, _ := s.Load(ctx); len(got) != 2 {
		t.Fatalf("a stale delete removed a newer checkpoint: %+v", got)
	}
	must(s.Delete(ctx, "1", byNode["1"].SavedAt))
	must(s.Delete(ctx, "2", time.Time{}))
	if got, _ := s.Load(ctx); len(got) != 0 {
		t.Fatalf("after deleting: %+v", got)
	}
	must(s.Save(ctx, one))
	got, _ = s.Load(ctx)
	if len(got) != 1 || len(got[0].Messages) != 2 || got[0].Messages[0] != one.Messages[0] {
		t.Fatalf("messages kept: %+v", got)
	}
}
