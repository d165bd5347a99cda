package httpapi_test

import (
	"bytes"
	"encoding/json"
	"image"
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/cmd/server/testserver"
	"github.com/parleychat/parley/internal/testenv/testfiles"
)

// putImage PUTs raw image bytes to path and returns the status and the answer's body.
func putImage(t *testing.T, s *testserver.Server, token, path string, data []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", s.URL+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// putAvatar sets the caller's avatar: the status and the new avatar URL (the error body when refused).
func putAvatar(t *testing.T, s *testserver.Server, token string, data []byte) (int, string) {
	t.Helper()
	status, b := putImage(t, s, token, "/api/users/me/avatar", data)
	var me struct{ AvatarURL string }
	if status != http.StatusOK || json.Unmarshal(b, &me) != nil {
		return status, string(b)
	}
	return status, me.AvatarURL
}

// TestAvatarsOnTheObjectStore: an uploaded avatar is squared to 256×256 without its metadata, served publicly
// from our origin, and the replaced or cleared one is deleted; a non-image is refused.
func TestAvatarsOnTheObjectStore(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice := s.Register(t, "alice")

	status, url := putAvatar(t, s, alice.AccessToken, testfiles.JPEGWithGPS(600, 400))
	if status != http.StatusOK || !strings.HasPrefix(url, "/avatars/") || !strings.HasSuffix(url, ".png") {
		t.Fatalf("put avatar: %d %s", status, url)
	}
	res, body := fetch(t, s, url, nil) // public: no credentials
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("get avatar: %d %v", res.StatusCode, res.Header)
	}
	if bytes.Contains(body, []byte(testfiles.GPSMarker)) {
		t.Fatal("the avatar kept the GPS block")
	}
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(body)); err != nil || format != "png" || cfg.Width != 256 || cfg.Height != 256 {
		t.Fatalf("avatar image %+v %s %v", cfg, format, err)
	}
	var pub struct{ AvatarURL string }
	s.Do(t, "GET", "/api/users/"+alice.ID, alice.AccessToken, nil).JSON(t, &pub)
	if pub.AvatarURL != url {
		t.Fatalf("profile shows %q, want %q", pub.AvatarURL, url)
	}

	// Replacing it deletes the old one.
	status, url2 := putAvatar(t, s, alice.AccessToken, testfiles.PNG(64, 300))
	if status != http.StatusOK || url2 == url {
		t.Fatalf("second avatar: %d %s", status, url2)
	}
	if res, _ := fetch(t, s, url, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the replaced avatar is still served: %d", res.StatusCode)
	}
	// Refusals change nothing.
	for _, bad := range [][]byte{[]byte(testfiles.SVGWithScript), testfiles.Truncated(testfiles.PNG(200, 200)), testfiles.BombPNG(50_000, 50_000), nil} {
		if status, msg := putAvatar(t, s, alice.AccessToken, bad); status != http.StatusBadRequest {
			t.Fatalf("bad avatar accepted: %d %s", status, msg)
		}
	}
	if res, _ := fetch(t, s, url2, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a refused upload removed the avatar: %d", res.StatusCode)
	}
	for _, name := range []string{"..png", "x.svg", "1.png.html", "%2e%2e"} {
		if res, _ := fetch(t, s, "/avatars/"+name, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("/avatars/%s: %d", name, res.StatusCode)
		}
	}
	// Clearing it deletes it.
	if r := s.Do(t, "DELETE", "/api/users/me/avatar", alice.AccessToken, nil); r.Status != http.StatusOK || strings.Contains(string(r.Body), "/avatars/") {
		t.Fatalf("delete avatar: %d %s", r.Status, r.Body)
	}
	if res, _ := fetch(t, s, url2, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the cleared avatar is still served: %d", res.StatusCode)
	}
}

// putIcon sets a server's icon: the status and the new icon URL (the error body when refused).
func putIcon(t *testing.T, s *testserver.Server, token, serverID string, data []byte) (int, string) {
	t.Helper()
	status, b := putImage(t, s, token, "/api/servers/"+serverID+"/icon", data)
	var srv struct{ IconURL string }
	if status != http.StatusOK || json.Unmarshal(b, &srv) != nil {
		return status, string(b)
	}
	return status, srv.IconURL
}

// Server icons (#17) are stored like avatars: owners and admins set them, members see them, a replaced or
// cleared one is deleted, and a refused upload leaves nothing behind.
func TestServerIconsOnTheObjectStore(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	alice, bob := s.Register(t, "alice"), s.Register(t, "bob")
	srv := createServer(t, s, alice, "Icons")
	join(t, s, bob, invite(t, s, alice, srv.ID, nil))
	iconOf := func() string {
		var got struct{ IconURL string }
		s.Do(t, "GET", "/api/servers/"+srv.ID, bob.AccessToken, nil).JSON(t, &got)
		return got.IconURL
	}
	if iconOf() != "" {
		t.Fatal("a new server has an icon")
	}

	status, url := putIcon(t, s, alice.AccessToken, srv.ID, testfiles.JPEGWithGPS(600, 400))
	if status != http.StatusOK || !strings.HasPrefix(url, "/avatars/") {
		t.Fatalf("owner sets the icon: %d %s", status, url)
	}
	if got := iconOf(); got != url {
		t.Fatalf("a member sees icon %q, want %q", got, url)
	}
	res, body := fetch(t, s, url, nil)
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(body)); res.StatusCode != http.StatusOK || err != nil || format != "png" || cfg.Width != 256 ||
		bytes.Contains(body, []byte(testfiles.GPSMarker)) {
		t.Fatalf("icon served: %d %+v %s %v", res.StatusCode, cfg, format, err)
	}

	// A plain member may not; nothing changes.
	if status, msg := putIcon(t, s, bob.AccessToken, srv.ID, testfiles.PNG(64, 64)); status != http.StatusForbidden {
		t.Fatalf("member sets the icon: %d %s", status, msg)
	}
	if status, msg := putIcon(t, s, alice.AccessToken, srv.ID, []byte(testfiles.SVGWithScript)); status != http.StatusBadRequest {
		t.Fatalf("an SVG icon: %d %s", status, msg)
	}
	if iconOf() != url {
		t.Fatal("a refused upload changed the icon")
	}

	// Replacing deletes the old file; clearing deletes the current one.
	status, url2 := putIcon(t, s, alice.AccessToken, srv.ID, testfiles.PNG(64, 300))
	if status != http.StatusOK || url2 == url {
		t.Fatalf("second icon: %d %s", status, url2)
	}
	if res, _ := fetch(t, s, url, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the replaced icon is still served: %d", res.StatusCode)
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/icon", bob.AccessToken, nil); res.Status != http.StatusForbidden {
		t.Fatalf("member clears the icon: %d", res.Status)
	}
	if res := s.Do(t, "DELETE", "/api/servers/"+srv.ID+"/icon", alice.AccessToken, nil); res.Status != http.StatusOK || iconOf() != "" {
		t.Fatalf("clear: %d %s", res.Status, res.Body)
	}
	if res, _ := fetch(t, s, url2, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the cleared icon is still served: %d", res.StatusCode)
	}
}
