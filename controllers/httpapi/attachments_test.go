package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parleychat/parley/controllers/httpapi"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/testfiles"
	"github.com/parleychat/parley/services/messaging"
)

// upload posts a file with a name (testserver's Upload).
func upload(t *testing.T, s *testserver.Server, token, channelID, name string, data []byte) (int, testserver.Attachment, string) {
	t.Helper()
	return s.Upload(t, token, channelID, "filename="+url.QueryEscape(name), data)
}

func fetch(t *testing.T, s *testserver.Server, path string, auth func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	if auth != nil {
		auth(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// TestAttachmentsEndToEnd: upload, the files cookie, safe download headers, a message carrying the files, its
// history, access of members and non-members, removal of a member, and deletion with the message.
func TestAttachmentsEndToEnd(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	owner, member, outsider := s.Register(t, "owner"), s.Register(t, "member"), s.Register(t, "outsider")
	srv := createServer(t, s, owner, "Files")
	join(t, s, member, invite(t, s, owner, srv.ID, map[string]any{}))
	var chans struct{ Channels []channel }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	general := chans.Channels[0].ID

	var limits struct {
		MaxSize       int64
		MaxPerMessage int
		Types         []string
	}
	s.Do(t, "GET", "/api/attachments/limits", owner.AccessToken, nil).JSON(t, &limits)
	if limits.MaxSize != 25<<20 || limits.MaxPerMessage != 10 || len(limits.Types) == 0 {
		t.Fatalf("limits %+v", limits)
	}

	status, photo, body := upload(t, s, owner.AccessToken, general, "holiday/../\u202Egnp.html", testfiles.JPEGWithGPS(1000, 500))
	if status != http.StatusCreated || photo.ContentType != "image/jpeg" || photo.Width != 1000 || photo.PreviewURL == "" {
		t.Fatalf("upload: %d %s", status, body)
	}
	if photo.Name != "gnp.html" || !strings.HasPrefix(photo.URL, "/files/"+photo.ID+"/") {
		t.Fatalf("name %q url %q", photo.Name, photo.URL)
	}
	status, page, _ := upload(t, s, owner.AccessToken, general, "page.html", []byte(testfiles.HTMLPage))
	if status != http.StatusCreated {
		t.Fatal(status)
	}
	if status, _, body := upload(t, s, outsider.AccessToken, general, "x.txt", []byte("x")); status != http.StatusNotFound {
		t.Fatalf("an outsider uploaded: %d %s", status, body)
	}
	if status, _, body := upload(t, s, owner.AccessToken, general, "bomb.png", testfiles.BombPNG(60_000, 60_000)); status != http.StatusBadRequest ||
		!strings.Contains(body, "60000×60000") {
		t.Fatalf("bomb: %d %s", status, body)
	}

	// Unsent files: the uploader only; no token, no file.
	if res, _ := fetch(t, s, photo.URL, bearer(member.AccessToken)); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a member read an unsent upload: %d", res.StatusCode)
	}
	if res, _ := fetch(t, s, photo.URL, nil); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", res.StatusCode)
	}

	// The message: the service path the socket event uses, then history as every member sees it.
	done := make(chan model.Message, 1)
	id := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	err := s.App.Messaging.Send(context.Background(), messaging.Draft{UserID: id(owner.ID), ChannelID: id(general), Nonce: "n-1",
		Attachments: []int64{id(photo.ID), id(page.ID)}}, func(m model.Message, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := <-done
	var hist struct {
		Messages []struct {
			ID          string
			Content     string
			Attachments []testserver.Attachment
		}
	}
	s.Do(t, "GET", "/api/channels/"+general+"/messages", member.AccessToken, nil).JSON(t, &hist)
	if len(hist.Messages) != 1 || len(hist.Messages[0].Attachments) != 2 || hist.Messages[0].Attachments[0] != photo || hist.Messages[0].Content != "" {
		t.Fatalf("history: %+v", hist)
	}

	// A member loads it through the files cookie, as an <img> would.
	res := s.Do(t, "POST", "/api/files/session", member.AccessToken, nil)
	if res.Status != http.StatusNoContent {
		t.Fatalf("files session: %d %s", res.Status, res.Body)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == httpapi.FilesCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.Path != "/files/" || cookie.SameSite != http.SameSiteStrictMode || cookie.MaxAge <= 0 {
		t.Fatalf("files cookie %+v", cookie)
	}
	withCookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value}) }
	res2, got := fetch(t, s, photo.URL, withCookie)
	if res2.StatusCode != http.StatusOK || bytes.Contains(got, []byte(testfiles.GPSMarker)) || int64(len(got)) != photo.Size {
		t.Fatalf("download: %d, %d bytes (want %d), GPS stripped: %v", res2.StatusCode, len(got), photo.Size, !bytes.Contains(got, []byte(testfiles.GPSMarker)))
	}
	h := res2.Header
	if h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != httpapi.FileCSP ||
		!strings.HasPrefix(h.Get("Content-Disposition"), "inline;") || !strings.Contains(h.Get("Cache-Control"), "private") {
		t.Fatalf("image headers: %v", h)
	}
	if res, b := fetch(t, s, photo.PreviewURL, withCookie); res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || len(b) == 0 {
		t.Fatalf("preview: %d %v", res.StatusCode, res.Header)
	}
	// Range requests (video seeking).
	rangeReq := func(r *http.Request) { withCookie(r); r.Header.Set("Range", "bytes=0-9") }
	if res, b := fetch(t, s, photo.URL, rangeReq); res.StatusCode != http.StatusPartialContent || len(b) != 10 {
		t.Fatalf("range: %d, %d bytes", res.StatusCode, len(b))
	}
	// HTML is never served as HTML from our origin.
	res3, _ := fetch(t, s, page.URL, withCookie)
	if ct := res3.Header.Get("Content-Type"); ct != "application/octet-stream" || !strings.HasPrefix(res3.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("html served as %q, %q", ct, res3.Header.Get("Content-Disposition"))
	}
	if res, _ := fetch(t, s, photo.URL, bearer(outsider.AccessToken)); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an outsider read it: %d", res.StatusCode)
	}

	// A removed member loses access at once.
	if r := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/members/"+member.ID, owner.AccessToken, nil); r.Status >= 300 {
		t.Fatalf("remove member: %d %s", r.Status, r.Body)
	}
	if res, _ := fetch(t, s, photo.URL, withCookie); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a removed member still reads: %d", res.StatusCode)
	}

	// Deleting the message deletes its files.
	if err := s.App.Messaging.Delete(context.Background(), id(owner.ID), id(general), msg.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, _ := fetch(t, s, photo.URL, bearer(owner.AccessToken))
		if res.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted message's file is still served: %d", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUploadBadRequests: bodies that lie about their length, abort, are empty or too big.
func TestUploadBadRequests(t *testing.T) {
	t.Parallel()
	pgURL := testenv.PostgresURL(t)
	s := testserver.Start(t, testserver.Options{PGURL: pgURL, Env: map[string]string{"PARLEY_UPLOAD_MAX_SIZE": "100000"}})
	owner := s.Register(t, "owner")
	srv := createServer(t, s, owner, "Files")
	var chans struct{ Channels []channel }
	s.Do(t, "GET", "/api/servers/"+srv.ID+"/channels", owner.AccessToken, nil).JSON(t, &chans)
	path := "/api/channels/" + chans.Channels[0].ID + "/attachments?filename=a.txt"

	if status, _, body := upload(t, s, owner.AccessToken, chans.Channels[0].ID, "big.txt", bytes.Repeat([]byte("a"), 100_001)); status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(body, "at most 97 KiB") {
		t.Fatalf("too big: %d %s", status, body)
	}
	if status, _, body := upload(t, s, owner.AccessToken, chans.Channels[0].ID, "empty.txt", nil); status != http.StatusBadRequest || !strings.Contains(body, "empty") {
		t.Fatalf("empty: %d %s", status, body)
	}
	// Chunked (no Content-Length).
	req, _ := http.NewRequest("POST", s.URL+path, io.MultiReader(strings.NewReader("chunked body")))
	req.Header.Set("Authorization", "Bearer "+owner.AccessToken)
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Content-Length") {
		t.Fatalf("chunked: %d %s", res.StatusCode, b)
	}

	// A Content-Length larger than the body, then the client goes away: a clear error if it is still there to
	// read it, and nothing stored either way.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 5000\r\n\r\n%s", path, owner.AccessToken, strings.Repeat("x", 1000))
	_ = conn.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(reply), "400 Bad Request") || !strings.Contains(string(reply), "stopped after 1000 of the 5000 bytes") {
		t.Fatalf("short body: %s", reply)
	}
	db, err := pgx.Connect(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var rows int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM attachments").Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d attachment rows after refusals (%v)", rows, err)
	}
	files := 0
	_ = filepath.Walk(s.Config.Storage.Dir, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			files++
		}
		return nil
	})
	spooled, _ := os.ReadDir(s.Config.Uploads.TempDir)
	if files != 0 || len(spooled) != 0 {
		t.Fatalf("%d objects and %d temporary files left after refusals", files, len(spooled))
	}
}
