package messaging

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/model"
)

// A relay passes every stored message to each listener that joined, in the order they joined; before any joined
// it drops them.
func TestRelayPassesStoredMessagesOnInJoinOrder(t *testing.T) {
	var r Relay
	r.MessageStored(model.Message{ID: 1}) // nobody listens yet
	var got []string
	r.Join(func(m model.Message) { got = append(got, "a"+string(rune('0'+m.ID))) })
	r.Join(func(m model.Message) { got = append(got, "b"+string(rune('0'+m.ID))) })
	r.MessageStored(model.Message{ID: 2})
	r.MessageStored(model.Message{ID: 3})
	if want := []string{"a2", "b2", "a3", "b3"}; !slices.Equal(got, want) {
		t.Fatalf("listeners heard %v, want %v", got, want)
	}
}
