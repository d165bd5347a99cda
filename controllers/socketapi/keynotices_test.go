package socketapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	redisstore "github.com/parleychat/parley/repositories/redis"
	"github.com/parleychat/parley/services/keys"
)

// Issue #19, push instead of polling: the real key service publishes its notices on the real Redis, and the
// chat server (PARLEY_KEYS_REDIS_URL) relays them as e2ee:sync to the sockets of exactly the users concerned:
// a new device's first publish to its owner, an accepted Commit to every member, nothing to anyone else.
func TestKeyNoticesReachTheMembersSockets(t *testing.T) {
	t.Parallel()
	rc, prefix := testenv.Redis(t)
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_KEYS_REDIS_URL": testenv.RedisURL(t), "PARLEY_REDIS_PREFIX": prefix}})
	h, _ := s.KeyService(t, keys.DefaultPolicy, redisstore.NewKeyNotices(rc, prefix))
	ks := httptest.NewServer(h)
	defer ks.Close()
	call := keysCaller(t, ks.URL)

	// The relay subscribes once the server serves; wait for it (a notice published before is lost by design).
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := rc.PubSubNumSub(context.Background(), prefix+":keys:notices").Result()
		if err == nil && n[prefix+":keys:notices"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the chat server never subscribed to the key notices: %v %v", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	alice, bob, carol := s.Register(t, "kn_alice"), s.Register(t, "kn_bob"), s.Register(t, "kn_carol")
	b := jsclient.Start(t)
	ac, bc, cc := connect(t, b, s, alice), connect(t, b, s, bob), connect(t, b, s, carol)
	device := func(acc testserver.Account) string {
		return call(acc, "POST", "/v1/devices", map[string]any{"name": "Chromium", "signatureKey": opaqueBlob("sig-" + acc.ID)})["device"].(map[string]any)["id"].(string)
	}
	a1, b1 := device(alice), device(bob)
	type syncEvent struct{ Reason, GroupID, DeviceID string }
	decode := func(raw json.RawMessage) syncEvent {
		var ev syncEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}

	// Bob's device publishes its first packages: Bob's sockets hear of it (his other browsers add it).
	call(bob, "POST", "/v1/devices/"+b1+"/key-packages", map[string]any{"keyPackages": []string{opaqueBlob("kp1")}, "lastResort": opaqueBlob("last")})
	evs, err := bc.WaitEvents("e2ee:sync", 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ev := decode(evs[0]); ev.Reason != "device_added" || ev.DeviceID != b1 {
		t.Fatalf("bob's first event: %+v", ev)
	}

	// Alice's Commit adds Bob's device: both members' sockets get e2ee:sync with the group id.
	gid := base64.RawURLEncoding.EncodeToString([]byte("group-of-alice-and-bob"))
	call(alice, "POST", "/v1/groups", map[string]any{"groupId": gid, "deviceId": a1})
	call(alice, "POST", "/v1/groups/"+gid+"/commits", map[string]any{"deviceId": a1, "epoch": 0, "commit": opaqueBlob("commit"), "adds": []string{b1}, "welcome": opaqueBlob("welcome")})
	for name, c := range map[string]*jsclient.Client{"alice": ac, "bob": bc} {
		want := 1
		if name == "bob" {
			want = 2
		}
		evs, err := c.WaitEvents("e2ee:sync", want, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev := decode(evs[want-1]); ev.Reason != "commit" || ev.GroupID != gid || ev.DeviceID != "" {
			t.Fatalf("%s's event: %+v", name, ev)
		}
	}
	// Carol shares nothing with them: no notice reached her (the members' notices were one broadcast, done by now).
	if got := cc.Events("e2ee:sync"); len(got) != 0 {
		t.Fatalf("carol got %d e2ee:sync events", len(got))
	}
}
