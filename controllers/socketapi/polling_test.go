// The official client over HTTP long-polling, and polling upgraded to WebSocket.

package socketapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/jsclient"
)

func TestMessagingOverLongPollingAndUpgrade(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	_, general := community(t, s, alice, bob)
	b := jsclient.Start(t)
	polling := b.Connect(s.URL, alice.AccessToken, jsclient.Options{Transports: []string{"polling"}})
	upgraded := b.Connect(s.URL, bob.AccessToken, jsclient.Options{Transports: []string{"polling", "websocket"}})
	for _, c := range []*jsclient.Client{polling, upgraded} {
		if _, err := c.WaitConnected(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := polling.WaitConnected(1, time.Second); m.Transport != "polling" {
		t.Fatalf("transport %q", m.Transport)
	}
	time.Sleep(500 * time.Millisecond) // let the second client finish its upgrade to websocket
	for i, pair := range [][2]*jsclient.Client{{polling, upgraded}, {upgraded, polling}} {
		ack := sendMsg(t, pair[0], general, fmt.Sprint("over polling ", i), fmt.Sprint("p", i))
		if !ack.OK {
			t.Fatalf("send %d: %+v", i, ack)
		}
		got, err := pair[1].WaitEvents("message:new", i+1, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m := decodeMsgs(t, got)[i]; m.ID != ack.Message.ID {
			t.Fatalf("received %+v", m)
		}
	}
}
