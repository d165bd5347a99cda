package socketapi_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv/jsclient"
	"github.com/parleychat/parley/internal/testenv/testfiles"
)

func getFile(t *testing.T, s *testserver.Server, token, path string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Files in encrypted DMs (issue #19): the browser encrypts each file and uploads the ciphertext with encrypted=1.
// The server keeps those bytes as they came (no sniffing, no re-encoding, no preview, a neutral name and type),
// still enforces the size limit and membership, and deletes them with their message. A plaintext upload, or a
// plaintext file in an encrypted message, is refused.
func TestEncryptedDMFilesAreOpaque(t *testing.T) {
	t.Parallel()
	const maxSize = 64 << 10
	s := testserver.Start(t, testserver.Options{Env: map[string]string{"PARLEY_UPLOAD_MAX_SIZE": strconv.Itoa(maxSize)}})
	alice, bob, carol := s.Register(t, "ef_alice"), s.Register(t, "ef_bob"), s.Register(t, "ef_carol")
	_, general := community(t, s, alice, bob, carol)
	b := jsclient.Start(t)
	ac, bc := connect(t, b, s, alice), connect(t, b, s, bob)
	var dm struct{ ID string }
	s.Do(t, "POST", "/api/dms", alice.AccessToken, map[string]any{"userIds": []string{bob.ID}}).JSON(t, &dm)

	// Before encryption is on, an opaque upload is refused (the others could not decrypt it, the server could
	// not preview it); a plain file is fine and stays plain.
	if st, _, body := s.Upload(t, alice.AccessToken, dm.ID, "filename=x.bin&encrypted=1", []byte("ciphertext")); st != http.StatusBadRequest || !strings.Contains(body, `"encrypted"`) {
		t.Fatalf("opaque upload before encryption is on: %d %s", st, body)
	}
	if st, _, body := s.Upload(t, alice.AccessToken, general, "filename=x.bin&encrypted=1", []byte("ciphertext")); st != http.StatusBadRequest {
		t.Fatalf("opaque upload into a server channel: %d %s", st, body)
	}
	st, plainEarly, body := s.Upload(t, alice.AccessToken, dm.ID, "filename=early.txt", []byte("uploaded in clear before encryption"))
	if st != http.StatusCreated {
		t.Fatalf("plain upload before encryption: %d %s", st, body)
	}
	if r := s.Do(t, "PUT", "/api/dms/"+dm.ID+"/encryption", alice.AccessToken, nil); r.Status != http.StatusOK {
		t.Fatalf("turn encryption on: %d %s", r.Status, r.Body)
	}

	// Plaintext refused, as before.
	if st, _, body := s.Upload(t, alice.AccessToken, dm.ID, "filename=notes.txt", []byte("the plan, in clear")); st != http.StatusConflict || !strings.Contains(body, `"encryption_required"`) {
		t.Fatalf("plain upload into an encrypted DM: %d %s", st, body)
	}
	// An opaque blob that happens to start like a PNG (a real image, even): stored byte for byte, no preview,
	// no dimensions, no snippet, a neutral name and type whatever the client called it.
	blob := testfiles.PNG(64, 48)
	st, up, body := s.Upload(t, alice.AccessToken, dm.ID, "filename=holiday.png&encrypted=1", blob)
	if st != http.StatusCreated {
		t.Fatalf("opaque upload: %d %s", st, body)
	}
	if up.Name != "encrypted.bin" || up.ContentType != model.EncryptedFileType || up.Size != int64(len(blob)) || up.PreviewURL != "" || up.Width != 0 || up.Height != 0 || up.Snippet != "" {
		t.Fatalf("opaque upload stored as %+v", up)
	}
	if strings.Contains(body, "holiday") {
		t.Fatalf("the client's name reached the answer: %s", body)
	}
	// The size limit: a file of the limit fits once encrypted (+16 bytes of AES-GCM tag); one byte more does not.
	if st, _, body := s.Upload(t, alice.AccessToken, dm.ID, "encrypted=1", make([]byte, maxSize+16)); st != http.StatusCreated {
		t.Fatalf("opaque upload of the limit + tag: %d %s", st, body)
	}
	if st, _, body := s.Upload(t, alice.AccessToken, dm.ID, "encrypted=1", make([]byte, maxSize+17)); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("opaque upload over the limit: %d %s", st, body)
	}
	// Nothing but the blob itself is in the store: no preview, no poster.
	var keys []string
	_ = filepath.WalkDir(s.Config.Storage.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, up.ID) {
			keys = append(keys, filepath.Base(p))
		}
		return nil
	})
	if len(keys) != 1 || keys[0] != "file" {
		t.Fatalf("objects of the opaque upload: %v", keys)
	}
	stored, err := os.ReadFile(filepath.Join(s.Config.Storage.Dir, "att", up.ID, "file"))
	if err != nil || !bytes.Equal(stored, blob) {
		t.Fatalf("stored bytes differ (%v)", err)
	}

	ct := base64.StdEncoding.EncodeToString([]byte("mls-private-message with the file's key"))
	send := func(nonce string, ids ...string) sendAckEnc {
		var ack sendAckEnc
		if err := ac.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": ct, "nonce": nonce, "encrypted": true, "attachments": ids}, &ack, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		return ack
	}
	// A plain file cannot ride in an encrypted message.
	if a := send("ef-plain", plainEarly.ID); a.OK || a.Error.Code != "invalid_input" || a.Error.Field != "attachments" {
		t.Fatalf("an encrypted message with a plain file: %+v", a)
	}
	var sent struct {
		OK      bool `json:"ok"`
		Message struct {
			ID          string
			Encrypted   bool
			Attachments []testserver.Attachment
		} `json:"message"`
	}
	if err := ac.EmitAck("message:send", map[string]any{"channelId": dm.ID, "content": ct, "nonce": "ef-1", "encrypted": true, "attachments": []string{up.ID}}, &sent, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !sent.OK || !sent.Message.Encrypted || len(sent.Message.Attachments) != 1 || sent.Message.Attachments[0].ID != up.ID {
		t.Fatalf("encrypted message with an opaque file: %+v", sent)
	}
	if _, err := bc.WaitEvents("message:new", 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// Bob (a member) gets the exact bytes, as a download of a neutral type; Carol (not in the DM) gets 404, like
	// an unknown id; there is no preview to ask for.
	path := "/files/" + up.ID + "/encrypted.bin"
	res, got := getFile(t, s, bob.AccessToken, path)
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, blob) || res.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("bob fetches the blob: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := getFile(t, s, carol.AccessToken, path); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a non-member fetches the blob: %d", res.StatusCode)
	}
	if res, _ := getFile(t, s, bob.AccessToken, path+"?preview=1"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a preview of an opaque file: %d", res.StatusCode)
	}

	// Deleted with its message: the object and the row go.
	var del struct {
		OK bool `json:"ok"`
	}
	if err := ac.EmitAck("message:delete", map[string]any{"channelId": dm.ID, "messageId": sent.Message.ID}, &del, 10*time.Second); err != nil || !del.OK {
		t.Fatalf("delete: %v %+v", err, del)
	}
	waitFor(t, "the blob deleted with its message", func() bool {
		res, _ := getFile(t, s, alice.AccessToken, path)
		_, err := os.Stat(filepath.Join(s.Config.Storage.Dir, "att", up.ID, "file"))
		return res.StatusCode == http.StatusNotFound && os.IsNotExist(err)
	})
}
