package attachments_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/repositories/cassandra"
	"github.com/parleychat/parley/repositories/objectstore/fs"
	"github.com/parleychat/parley/repositories/objectstore/s3"
	"github.com/parleychat/parley/services/attachments"
)

var oldSeq atomic.Int64

// oldID is a Snowflake id from two hours ago (past the sweeper's one-hour grace).
func oldID() int64 { return snowflake.FirstIDAt(time.Now().Add(-2*time.Hour)) + oldSeq.Add(1) }

// The sweeper on the real stores (Postgres, the Cassandra message log, and the fs and S3 object stores): files
// of deleted channels and servers, claims whose message was never stored or was deleted, a claim whose
// "attached" record was lost (repaired, not deleted), objects without a row and avatars nobody shows; and what
// it must leave alone: young objects and claims, objects with rows, keys it does not own.
func TestSweeperRemovesOrphansAndRepairsLostRecords(t *testing.T) {
	log := cassandra.NewMessageStore(testenv.Cassandra(t))
	ctx := context.Background()
	for _, kind := range []string{"fs", "s3"} {
		t.Run(kind, func(t *testing.T) {
			var objects attachments.Objects
			dir := ""
			if kind == "fs" {
				dir = t.TempDir()
				st, err := fs.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				objects = st
			} else {
				cfg := testenv.S3Config(t)
				cfg.Prefix = testenv.UniqueName("sweep") + "/" // the sweeper lists its folder only
				st, err := s3.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				objects = st
			}
			// SweepPage 3: the walk over the store takes several runs and must resume where it stopped.
			e := newEnv(t, objects, dir, attachments.Config{Sent: log, SweepPage: 3})
			exec := func(sql string, args ...any) {
				t.Helper()
				if _, err := e.pg.Exec(ctx, sql, args...); err != nil {
					t.Fatal(err)
				}
			}
			put := func(key string) {
				t.Helper()
				if err := objects.Put(ctx, key, strings.NewReader("x"), 1, "application/octet-stream"); err != nil {
					t.Fatal(err)
				}
			}
			exists := func(key string) bool {
				rc, _, err := objects.Get(ctx, key)
				if err == nil {
					rc.Close()
				}
				return err == nil
			}
			upload := func(channel int64, name string) model.Attachment {
				t.Helper()
				a, err := e.upload(alice, channel, name, []byte("content of "+name))
				if err != nil {
					t.Fatal(err)
				}
				return a
			}

			// A deleted group DM and a deleted server (its channel goes by cascade): the trigger records both.
			owner, server, text, dm := oldID(), oldID(), oldID(), oldID()
			exec("INSERT INTO users (id, username, email, password_hash) VALUES ($1, $2, $2 || '@x', 'x')", owner, fmt.Sprint("u", owner))
			exec("INSERT INTO servers (id, name, owner_id) VALUES ($1, 's', $2)", server, owner)
			exec("INSERT INTO channels (id, server_id, kind, name) VALUES ($1, $2, 'text', 'general')", text, server)
			exec("INSERT INTO channels (id, kind) VALUES ($1, 'dm')", dm)
			e.access.set(alice, text, true)
			e.access.set(alice, dm, true)
			inText, inDM := upload(text, "t.txt"), upload(dm, "d.txt")
			inDMClaimed := upload(dm, "d2.txt")
			if _, err := e.svc.Claim(ctx, alice, dm, "n-dm", []int64{inDMClaimed.ID}); err != nil {
				t.Fatal(err)
			}
			exec("DELETE FROM servers WHERE id = $1", server)
			exec("DELETE FROM channels WHERE id = $1", dm)

			// Claims: one whose message is in the log (its "attached" record was lost), one whose message was never
			// stored, one whose message was deleted, and a recent one without a message (a send on its way).
			repaired, lost, deleted, recent := upload(general, "r.txt"), upload(general, "l.txt"), upload(general, "x.txt"), upload(general, "y.txt")
			for _, c := range []struct {
				a     model.Attachment
				nonce string
			}{{repaired, "n-ok"}, {lost, "n-lost"}, {deleted, "n-del"}, {recent, "n-recent"}} {
				if _, err := e.svc.Claim(ctx, alice, general, kind+c.nonce, []int64{c.a.ID}); err != nil {
					t.Fatal(err)
				}
			}
			exec("UPDATE attachments SET claimed_at = now() - interval '2 hours' WHERE id = ANY($1)", []int64{repaired.ID, lost.ID, deleted.ID})
			okMsg := model.Message{ID: oldID(), ChannelID: general, SenderID: alice, Content: "r", Nonce: kind + "n-ok", Attachments: []model.Attachment{repaired}}
			delMsg := model.Message{ID: oldID(), ChannelID: general, SenderID: alice, Content: "x", Nonce: kind + "n-del", Attachments: []model.Attachment{deleted}}
			// Another sender's message with the lost claim's nonce must not count as its message.
			other := model.Message{ID: oldID(), ChannelID: general, SenderID: bob, Content: "o", Nonce: kind + "n-lost"}
			if err := log.InsertBatch(ctx, []model.Message{okMsg, delMsg, other}, 0); err != nil {
				t.Fatal(err)
			}
			if err := log.Delete(ctx, general, delMsg.ID, 0); err != nil {
				t.Fatal(err)
			}

			// A message deleted by a process that died before deleting its files, and a message whose delete
			// failed after its files were marked: the first's files go, the second's stay, unmarked.
			cut, failed := upload(general, "cut.txt"), upload(general, "failed.txt")
			cutMsg := model.Message{ID: oldID(), ChannelID: general, SenderID: alice, Content: "c", Nonce: kind + "n-cut", Attachments: []model.Attachment{cut}}
			failedMsg := model.Message{ID: oldID(), ChannelID: general, SenderID: alice, Content: "f", Nonce: kind + "n-failed", Attachments: []model.Attachment{failed}}
			if err := log.InsertBatch(ctx, []model.Message{cutMsg, failedMsg}, 0); err != nil {
				t.Fatal(err)
			}
			for _, m := range []model.Message{cutMsg, failedMsg} {
				if _, err := e.svc.Claim(ctx, alice, general, m.Nonce, []int64{m.Attachments[0].ID}); err != nil {
					t.Fatal(err)
				}
				if err := e.store.Attach(ctx, m.ID, []int64{m.Attachments[0].ID}); err != nil {
					t.Fatal(err)
				}
				if err := e.svc.Deleting(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := log.Delete(ctx, general, cutMsg.ID, 0); err != nil {
				t.Fatal(err)
			}
			exec("UPDATE attachments SET deleting_at = now() - interval '2 hours' WHERE id = ANY($1)", []int64{cut.ID, failed.ID})

			// Objects: left by a crash between storing an upload and recording it (old, no row: deleted), one being
			// uploaded now (young: kept), an old one with its row (kept), keys the sweeper does not own (kept).
			crashed, young, withRow := oldID(), snowflake.FirstIDAt(time.Now()), oldID()
			put(fmt.Sprintf("att/%d/file", crashed))
			put(fmt.Sprintf("att/%d/preview.jpg", crashed))
			put(fmt.Sprintf("att/%d/file", young))
			put(fmt.Sprintf("att/%d/file", withRow))
			if err := e.store.Create(ctx, model.Attachment{ID: withRow, OwnerID: alice, ChannelID: general, Name: "w", ContentType: "text/plain",
				Size: 1, ObjectKey: fmt.Sprintf("att/%d/file", withRow), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			put("att/readme/file")
			put("backups/x")
			// Avatars: one nobody shows (a crash before the profile was saved, or a failed delete), one a user shows,
			// one a server shows, one just uploaded.
			stray, shown, icon, fresh := oldID(), oldID(), oldID(), snowflake.FirstIDAt(time.Now())
			for _, id := range []int64{stray, shown, icon, fresh} {
				put(fmt.Sprintf("avatars/%d.png", id))
			}
			exec("UPDATE users SET avatar_url = $2 WHERE id = $1", owner, fmt.Sprintf("%s%d.png", model.AvatarPathPrefix, shown))
			iconServer := oldID()
			exec("INSERT INTO servers (id, name, owner_id, icon_url) VALUES ($1, 's2', $2, $3)", iconServer, owner, fmt.Sprintf("%s%d.png", model.AvatarPathPrefix, icon))

			var total attachments.Swept
			for range 8 {
				w, err := e.svc.Sweep(ctx)
				if err != nil {
					t.Fatal(err)
				}
				total.Unsent += w.Unsent
				total.GoneChannels += w.GoneChannels
				total.StaleClaims += w.StaleClaims
				total.Repaired += w.Repaired
				total.Deleted += w.Deleted
				total.Objects += w.Objects
			}
			want := attachments.Swept{GoneChannels: 3, StaleClaims: 2, Repaired: 1, Deleted: 1, Objects: 3}
			if total != want {
				t.Fatalf("swept %+v, want %+v", total, want)
			}

			var marked bool
			if err := e.pg.QueryRow(ctx, "SELECT deleting_at IS NOT NULL FROM attachments WHERE id = $1", failed.ID).Scan(&marked); err != nil || marked || !exists(failed.ObjectKey) {
				t.Errorf("the file of a message whose delete failed: marked=%v exists=%v (%v)", marked, exists(failed.ObjectKey), err)
			}
			for _, a := range []model.Attachment{inText, inDM, inDMClaimed, lost, deleted, cut} {
				if _, err := e.store.Get(ctx, a.ID); err == nil || exists(a.ObjectKey) {
					t.Errorf("%s: row or object left (err %v)", a.Name, err)
				}
			}
			if a, err := e.store.Get(ctx, repaired.ID); err != nil || a.Status != model.AttachmentAttached || a.MessageID != okMsg.ID || !exists(a.ObjectKey) {
				t.Errorf("the stored message's file: %+v %v", a, err)
			}
			if a, err := e.store.Get(ctx, recent.ID); err != nil || a.Status != model.AttachmentClaimed || !exists(a.ObjectKey) {
				t.Errorf("a recent claim was touched: %+v %v", a, err)
			}
			var gone int
			if err := e.pg.QueryRow(ctx, "SELECT count(*) FROM attachment_gone_channels").Scan(&gone); err != nil || gone != 0 {
				t.Errorf("%d deleted channels still recorded (%v)", gone, err)
			}
			for key, want := range map[string]bool{
				fmt.Sprintf("att/%d/file", crashed): false, fmt.Sprintf("att/%d/preview.jpg", crashed): false,
				fmt.Sprintf("att/%d/file", young): true, fmt.Sprintf("att/%d/file", withRow): true,
				"att/readme/file": true, "backups/x": true,
				fmt.Sprintf("avatars/%d.png", stray): false, fmt.Sprintf("avatars/%d.png", shown): true,
				fmt.Sprintf("avatars/%d.png", icon): true, fmt.Sprintf("avatars/%d.png", fresh): true,
			} {
				if exists(key) != want {
					t.Errorf("%s: exists=%v, want %v", key, !want, want)
				}
			}
			if kind == "s3" {
				t.Cleanup(func() {
					for _, k := range []string{"att/readme/file", "backups/x", fmt.Sprintf("att/%d/file", young), fmt.Sprintf("att/%d/file", withRow),
						fmt.Sprintf("avatars/%d.png", shown), fmt.Sprintf("avatars/%d.png", icon), fmt.Sprintf("avatars/%d.png", fresh),
						repaired.ObjectKey, recent.ObjectKey, failed.ObjectKey} {
						_ = objects.Delete(ctx, k)
					}
				})
			}
		})
	}
}
