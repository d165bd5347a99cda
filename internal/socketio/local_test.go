package socketio

import (
	"context"
	"sync/atomic"
	"testing"
)

type countingOutbox struct{ n atomic.Int32 }

func (o *countingOutbox) Publish([]byte)                            { o.n.Add(1) }
func (o *countingOutbox) PublishWait(context.Context, []byte) error { o.n.Add(1); return nil }

// Operator.Local: an event every node emits itself (the key service's notices, read by each node) stays off the
// bus between nodes; a plain emit goes on it. The tap sees both.
func TestLocalEmitStaysOffTheBus(t *testing.T) {
	s := New(Config{}, quietLog)
	defer s.Close()
	nsp := s.Of("/")
	out := &countingOutbox{}
	nsp.SetAdapter(NewBusAdapter(nsp.Adapter().(*LocalAdapter), out, quietLog))
	var tapped atomic.Int32
	s.SetTap(func(string, bool, []any) { tapped.Add(1) })
	if err := nsp.To("user:1").Local().Emit("e2ee:sync", map[string]string{"reason": "commit"}); err != nil {
		t.Fatal(err)
	}
	if n := out.n.Load(); n != 0 {
		t.Fatalf("a local emit was published %d times", n)
	}
	if err := nsp.To("user:1").Emit("e2ee:sync", map[string]string{"reason": "commit"}); err != nil {
		t.Fatal(err)
	}
	if n := out.n.Load(); n != 1 {
		t.Fatalf("a plain emit was published %d times", n)
	}
	if tapped.Load() != 2 {
		t.Fatalf("tap saw %d emits", tapped.Load())
	}
}
