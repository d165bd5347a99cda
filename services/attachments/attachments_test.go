package attachments_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/testenv"
	"github.com/parleychat/parley/internal/testenv/testfiles"
	"github.com/parleychat/parley/repositories/objectstore/fs"
	"github.com/parleychat/parley/repositories/postgres"
	"github.com/parleychat/parley/services/attachments"
)

// members is channel access as a set of (user, channel) pairs that tests change.
type members struct {
	mu sync.Mutex
	in map[[2]int64]bool
}

func (m *members) set(user, channel int64, in bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.in[[2]int64{user, channel}] = in
}

func (m *members) CanRead(_ context.Context, user, channel int64) (model.Channel, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.in[[2]int64{user, channel}] {
		return model.Channel{}, "", apperr.New(apperr.Forbidden, "you are not a member of this channel")
	}
	if channel == encDM {
		return model.Channel{ID: channel, Kind: model.ChannelDM, Encrypted: true}, model.RoleMember, nil
	}
	return model.Channel{ID: channel, Kind: model.ChannelText}, model.RoleMember, nil
}

const (
	alice, bob, carol = int64(11), int64(12), int64(13)
	general, secret   = int64(101), int64(102)
	encDM             = int64(103) // an end-to-end encrypted DM of alice and bob
)

type env struct {
	svc     *attachments.Service
	access  *members
	store   *postgres.AttachmentStore
	pg      *pgxpool.Pool
	objects attachments.Objects
	dir     string // fs store root ("" for S3)
	spool   string
}

func newEnv(t *testing.T, objects attachments.Objects, dir string, cfg attachments.Config) *env {
	t.Helper()
	ids, _ := snowflake.New(1)
	access := &members{in: map[[2]int64]bool{}}
	for _, u := range []int64{alice, bob, carol} {
		access.set(u, general, true)
	}
	access.set(alice, secret, true)
	access.set(alice, encDM, true)
	access.set(bob, encDM, true)
	pg := testenv.Postgres(t)
	store := postgres.NewAttachmentStore(pg)
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	svc := attachments.New(store, objects, access, ids, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	return &env{svc: svc, access: access, store: store, pg: pg, objects: objects, dir: dir, spool: cfg.TempDir}
}

func newFSEnv(t *testing.T, cfg attachments.Config) *env {
	dir := t.TempDir()
	objects, err := fs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, objects, dir, cfg)
}

func (e *env) upload(user, channel int64, name string, data []byte) (model.Attachment, error) {
	return e.svc.Upload(context.Background(), attachments.Upload{UserID: user, ChannelID: channel, Name: name, Size: int64(len(data)), Body: bytes.NewReader(data)})
}

func (e *env) read(t *testing.T, user, id int64, preview bool) ([]byte, attachments.File) {
	t.Helper()
	f, err := e.svc.Open(context.Background(), user, id, preview)
	if err != nil {
		t.Fatalf("open %d as %d: %v", id, user, err)
	}
	defer f.Body.Close()
	b, err := io.ReadAll(f.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, f
}

// objectCount counts stored objects (fs) and spooled temporary files: both must be zero after a refusal.
func (e *env) leftovers(t *testing.T) (objects, spooled int) {
	t.Helper()
	_ = filepath.Walk(e.dir, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			objects++
		}
		return nil
	})
	ents, _ := os.ReadDir(e.spool)
	return objects, len(ents)
}

func wantKind(t *testing.T, err error, kind apperr.Kind, text string) {
	t.Helper()
	if !apperr.Is(err, kind) {
		t.Fatalf("err = %v, want %s", err, kind)
	}
	if text != "" && !strings.Contains(apperr.As(err).Message, text) {
		t.Fatalf("message %q does not say %q", apperr.As(err).Message, text)
	}
}

func TestImageUploadStripsMetadataAndMakesAPreview(t *testing.T) {
	e := newFSEnv(t, attachments.Config{})
	src := testfiles.JPEGWithGPS(1200, 800)
	if !bytes.Contains(src, []byte(testfiles.GPSMarker)) {
		t.Fatal("fixture has no GPS block")
	}
	a, err := e.upload(alice, general, "../../etc/holiday\u202Egpj.exe", src)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentType != "image/jpeg" || a.Width != 1200 || a.Height != 800 || !a.Preview || a.Status != model.AttachmentReady {
		t.Fatalf("attachment %+v", a)
	}
	if a.Name != "holidaygpj.exe" {
		t.Fatalf("name %q: directories and the RTL override must be gone", a.Name)
	}
	// The owner sees it before sending; others do not.
	got, f := e.read(t, alice, a.ID, false)
	if bytes.Contains(got, []byte(testfiles.GPSMarker)) || bytes.Contains(got, []byte("Exif")) {
		t.Fatal("the download still carries the EXIF/GPS block")
	}
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(got)); err != nil || format != "jpeg" || cfg.Width != 1200 {
		t.Fatalf("download is not the image: %v %s %+v", err, format, cfg)
	}
	if f.ContentType != "image/jpeg" || !f.Inline || f.Size != int64(len(got)) || a.Size != f.Size {
		t.Fatalf("served as %q inline=%v size=%d (row %d)", f.ContentType, f.Inline, f.Size, a.Size)
	}
	prev, pf := e.read(t, alice, a.ID, true)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(prev))
	if err != nil || cfg.Width != 640 || cfg.Height != 426 || pf.ContentType != "image/jpeg" {
		t.Fatalf("preview %+v %v %s", cfg, err, pf.ContentType)
	}
	if _, err := e.svc.Open(context.Background(), bob, a.ID, false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another member opened an unsent upload: %v", err)
	}
}

// A phone's portrait photo: landscape pixels plus an EXIF orientation tag. The tag goes with the rest of the
// metadata, so the served image, its preview and its dimensions must already be upright.
func TestImageUploadHonoursEXIFOrientation(t *testing.T) {
	e := newFSEnv(t, attachments.Config{})
	a, err := e.upload(alice, general, "portrait.jpg", testfiles.OrientedJPEG(1200, 800, 6))
	if err != nil {
		t.Fatal(err)
	}
	if a.Width != 800 || a.Height != 1200 {
		t.Fatalf("dimensions %dx%d, want the upright 800x1200", a.Width, a.Height)
	}
	red := func(img image.Image, x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 > 150 && g>>8 < 90 && b>>8 < 90
	}
	for _, preview := range []bool{false, true} {
		got, _ := e.read(t, alice, a.ID, preview)
		if bytes.Contains(got, []byte("Exif")) {
			t.Fatal("the orientation tag (EXIF) survived")
		}
		img, _, err := image.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if w >= h {
			t.Fatalf("preview=%v: %dx%d is not portrait", preview, w, h)
		}
		// Rotated 90° clockwise, the stored top-left corner is the upright top-right one.
		if !red(img, w-5, 5) || red(img, 5, 5) || red(img, w-5, h-5) {
			t.Fatalf("preview=%v: the red corner is not top-right: the image was not turned upright", preview)
		}
	}
	// Orientation 1 (already upright) and 3 (upside down) keep landscape dimensions.
	for _, o := range []uint16{1, 3} {
		a, err := e.upload(alice, general, "landscape.jpg", testfiles.OrientedJPEG(300, 200, o))
		if err != nil || a.Width != 300 || a.Height != 200 {
			t.Fatalf("orientation %d: %dx%d %v", o, a.Width, a.Height, err)
		}
	}
}

func TestImageKinds(t *testing.T) {
	e := newFSEnv(t, attachments.Config{})
	a, err := e.upload(alice, general, "alpha.png", testfiles.TransparentPNG(900, 300))
	if err != nil {
		t.Fatal(err)
	}
	_, pf := e.read(t, alice, a.ID, true)
	if pf.ContentType != "image/png" {
		t.Fatalf("a transparent image's preview is %s, want PNG", pf.ContentType)
	}
	g := testfiles.GIF(40, 30)
	a, err = e.upload(alice, general, "tiny.gif", g)
	if err != nil || a.ContentType != "image/gif" || a.Width != 40 {
		t.Fatalf("%+v %v", a, err)
	}
	if got, _ := e.read(t, alice, a.ID, false); !bytes.Equal(got, g) {
		t.Fatal("a GIF is served as uploaded")
	}
	if _, err := e.svc.Open(context.Background(), alice, a.ID, false); err != nil {
		t.Fatal(err)
	}
	txt, err := e.upload(alice, general, "notes.txt", []byte("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Open(context.Background(), alice, txt.ID, true); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a text file has no preview image: %v", err)
	}
}

func TestTextFilesGetASnippetAndActiveTypesDownload(t *testing.T) {
	e := newFSEnv(t, attachments.Config{})
	var code strings.Builder
	for i := 1; i <= 30; i++ {
		code.WriteString("fmt.Println(\"line\", " + string(rune('0'+i%10)) + ")\n")
	}
	a, err := e.upload(alice, general, "main.go", []byte(code.String()))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(a.Snippet, "\n"); n != 11 || !strings.HasPrefix(a.Snippet, "fmt.Println") {
		t.Fatalf("snippet has %d newlines: %q", n, a.Snippet)
	}
	for _, c := range []struct{ name, body string }{{"x.svg", testfiles.SVGWithScript}, {"page.html", testfiles.HTMLPage}} {
		a, err := e.upload(alice, general, c.name, []byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, f := e.read(t, alice, a.ID, false)
		if f.Inline || f.ContentType != "application/octet-stream" {
			t.Fatalf("%s (%s) served as %s inline=%v", c.name, a.ContentType, f.ContentType, f.Inline)
		}
		if a.Snippet != "" && c.name == "page.html" {
			t.Fatal("HTML gets no text preview")
		}
	}
}

func TestBadInputIsRefusedAndLeavesNothing(t *testing.T) {
	e := newFSEnv(t, attachments.Config{MaxSize: 1 << 20, MaxPixels: 10_000_000})
	ctx := context.Background()
	cases := []struct {
		name string
		data []byte
		size int64 // announced; 0 = len(data)
		kind apperr.Kind
		text string
	}{
		{"zero.txt", nil, -2, apperr.Invalid, "empty"},
		{"huge.bin", []byte("x"), 2 << 20, apperr.TooLarge, "at most 1 MiB"},
		{"bomb.png", testfiles.BombPNG(100_000, 100_000), 0, apperr.Invalid, "100000×100000 pixels"},
		{"cut.png", testfiles.Truncated(testfiles.PNG(300, 300)), 0, apperr.Invalid, "corrupt or truncated"},
		{"cut.jpg", testfiles.Truncated(testfiles.JPEG(300, 300)), 0, apperr.Invalid, ""},
		{"poly.gif", testfiles.GIFScriptPolyglot(), 0, apperr.Invalid, "corrupt or truncated"},
		{"tool", testfiles.ELF(), 0, apperr.Invalid, "not allowed"},
		{"short.txt", []byte("only part of it"), 1000, apperr.Invalid, "stopped after 15 of the 1000 bytes"},
		{"unknown.txt", []byte("x"), -1, apperr.Invalid, "Content-Length"},
	}
	for _, c := range cases {
		size := c.size
		switch size {
		case 0:
			size = int64(len(c.data))
		case -2:
			size = 0
		}
		_, err := e.svc.Upload(ctx, attachments.Upload{UserID: alice, ChannelID: general, Name: c.name, Size: size, Body: bytes.NewReader(c.data)})
		if err == nil {
			t.Errorf("%s accepted", c.name)
			continue
		}
		if !apperr.Is(err, c.kind) || !strings.Contains(apperr.As(err).Message, c.text) {
			t.Errorf("%s: %v, want %s saying %q", c.name, err, c.kind, c.text)
		}
	}
	// An aborted request body (the client went away mid-upload).
	body := io.MultiReader(bytes.NewReader(make([]byte, 4096)), errReader{})
	if _, err := e.svc.Upload(ctx, attachments.Upload{UserID: alice, ChannelID: general, Name: "a.txt", Size: 8192, Body: body}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("aborted upload: %v", err)
	}
	if objects, spooled := e.leftovers(t); objects != 0 || spooled != 0 {
		t.Fatalf("refused uploads left %d objects and %d temporary files", objects, spooled)
	}
	n, err := e.store.Unsent(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(n) != 0 {
		t.Fatalf("refused uploads left rows: %v %v", n, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("unexpected EOF") }

func TestAllowedTypesAreConfiguration(t *testing.T) {
	e := newFSEnv(t, attachments.Config{Types: []string{"image/*"}})
	if _, err := e.upload(alice, general, "a.txt", []byte("plain text")); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("text accepted with only image/* allowed: %v", err)
	}
	if _, err := e.upload(alice, general, "a.png", testfiles.PNG(4, 4)); err != nil {
		t.Fatal(err)
	}
}

func TestUploadRateLimitPerUser(t *testing.T) {
	e := newFSEnv(t, attachments.Config{UploadBurst: 2, UploadEvery: time.Hour})
	for i := 0; i < 2; i++ {
		if _, err := e.upload(alice, general, "a.txt", []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.upload(alice, general, "a.txt", []byte("hi"))
	wantKind(t, err, apperr.RateLimited, "")
	if apperr.As(err).RetryAfter <= 0 {
		t.Fatal("no Retry-After")
	}
	if _, err := e.upload(bob, general, "b.txt", []byte("hi")); err != nil {
		t.Fatalf("another user is limited too: %v", err)
	}
}

func TestAccessClaimAttachDelete(t *testing.T) {
	e := newFSEnv(t, attachments.Config{})
	ctx := context.Background()
	if _, err := e.upload(bob, secret, "x.txt", []byte("hi")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("a non-member uploaded: %v", err)
	}
	a1, _ := e.upload(alice, general, "one.txt", []byte("one"))
	a2, _ := e.upload(alice, general, "two.png", testfiles.PNG(20, 20))
	other, _ := e.upload(bob, general, "bob.txt", []byte("bob's"))
	inSecret, _ := e.upload(alice, secret, "s.txt", []byte("secret"))

	for name, ids := range map[string][]int64{
		"someone else's": {a1.ID, other.ID}, "another channel's": {inSecret.ID}, "missing": {a1.ID, 999}, "twice": {a1.ID, a1.ID},
		"too many": make([]int64, 11),
	} {
		if _, err := e.svc.Claim(ctx, alice, general, "n1", ids); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("claim of %s files: %v", name, err)
		}
	}
	got, err := e.svc.Claim(ctx, alice, general, "n1", []int64{a2.ID, a1.ID})
	if err != nil || len(got) != 2 || got[0].ID != a2.ID || got[1].ID != a1.ID || got[0].Width != 20 {
		t.Fatalf("claim: %+v %v", got, err)
	}
	if _, err := e.svc.Claim(ctx, alice, general, "n1", []int64{a1.ID}); err != nil {
		t.Fatalf("a retry of the same send must claim again: %v", err)
	}
	if _, err := e.svc.Claim(ctx, alice, general, "n2", []int64{a1.ID}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("another send took a claimed file: %v", err)
	}
	msg := model.Message{ID: 5555, ChannelID: general, SenderID: alice, Attachments: got}
	e.svc.MessageStored(msg)
	waitFor(t, func() bool {
		a, _ := e.store.Get(ctx, a1.ID)
		return a.Status == model.AttachmentAttached && a.MessageID == 5555
	})

	// Members read it; a removed member loses access at once; non-members never had it.
	if b, _ := e.read(t, bob, a1.ID, false); string(b) != "one" {
		t.Fatalf("bob read %q", b)
	}
	e.access.set(bob, general, false)
	if _, err := e.svc.Open(ctx, bob, a1.ID, false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a removed member still reads: %v", err)
	}
	if _, err := e.svc.Open(ctx, carol, inSecret.ID, false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a non-member reads: %v", err)
	}

	before, _ := e.leftovers(t)
	e.svc.MessageDeleted(msg)
	waitFor(t, func() bool { _, err := e.store.Get(ctx, a1.ID); return errors.Is(err, model.ErrNotFound) })
	if _, err := e.svc.Open(ctx, alice, a2.ID, false); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a deleted message's file is still served: %v", err)
	}
	if after, _ := e.leftovers(t); after != before-3 { // one.txt, two.png and its preview
		t.Fatalf("objects %d → %d after deleting the message", before, after)
	}
}

func TestCollectorRemovesUnsentUploadsOnly(t *testing.T) {
	e := newFSEnv(t, attachments.Config{UnsentTTL: time.Millisecond})
	ctx := context.Background()
	unsent, _ := e.upload(alice, general, "u.txt", []byte("unsent"))
	sent, _ := e.upload(alice, general, "s.txt", []byte("sent"))
	if _, err := e.svc.Claim(ctx, alice, general, "n", []int64{sent.ID}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	n, err := e.svc.Collect(ctx)
	if err != nil || n != 1 {
		t.Fatalf("collected %d, %v", n, err)
	}
	if _, err := e.store.Get(ctx, unsent.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatal("the unsent upload's row is still there")
	}
	if _, err := e.store.Get(ctx, sent.ID); err != nil {
		t.Fatalf("a claimed upload was collected: %v", err)
	}
	if objects, _ := e.leftovers(t); objects != 1 {
		t.Fatalf("%d objects left, want the sent one", objects)
	}
	e.svc.Start(time.Millisecond) // the periodic run finds nothing more and stops with Close
	time.Sleep(10 * time.Millisecond)
}

// TestS3Backed runs an upload, a download and a delete against the stack's real S3 server.
func TestS3Backed(t *testing.T) {
	e := newEnv(t, testenv.S3(t), "", attachments.Config{})
	a, err := e.upload(alice, general, "photo.jpg", testfiles.JPEGWithGPS(800, 600))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.read(t, alice, a.ID, false)
	if bytes.Contains(got, []byte(testfiles.GPSMarker)) || int64(len(got)) != a.Size {
		t.Fatal("S3 download carries the GPS block or has the wrong size")
	}
	if _, ok := any(e.read).(func(*testing.T, int64, int64, bool) ([]byte, attachments.File)); !ok {
		t.Fatal("unreachable")
	}
	e.svc.MessageDeleted(model.Message{ID: 1, Attachments: []model.Attachment{a}})
	waitFor(t, func() bool {
		_, _, err := e.objects.Get(context.Background(), a.ObjectKey)
		return errors.Is(err, model.ErrNotFound)
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// In an end-to-end encrypted DM the browser uploads ciphertext (Opaque): kept byte for byte under a neutral name and
// type, with nothing derived from it (no preview, no snippet), within the size limit plus the GCM tag.
func TestOpaqueUploadsInEncryptedDMs(t *testing.T) {
	t.Parallel()
	e := newFSEnv(t, attachments.Config{MaxSize: 1000})
	opaque := func(user, channel int64, name string, data []byte) (model.Attachment, error) {
		return e.svc.Upload(context.Background(), attachments.Upload{UserID: user, ChannelID: channel, Name: name, Size: int64(len(data)), Body: bytes.NewReader(data), Opaque: true})
	}
	// Plaintext into the encrypted DM, and ciphertext anywhere else: refused, nothing kept.
	_, err := e.upload(alice, encDM, "notes.txt", []byte("in clear"))
	wantKind(t, err, apperr.EncryptionRequired, "encrypted")
	_, err = opaque(alice, general, "x.bin", []byte("ciphertext"))
	wantKind(t, err, apperr.Invalid, "not turned on")
	_, err = opaque(carol, encDM, "x.bin", []byte("ciphertext"))
	wantKind(t, err, apperr.Forbidden, "")
	if o, sp := e.leftovers(t); o != 0 || sp != 0 {
		t.Fatalf("after refusals: %d objects, %d spooled", o, sp)
	}
	// Text and an image, as the server would otherwise preview them: stored as they came, nothing derived.
	for _, data := range [][]byte{[]byte("line one\nline two\n"), testfiles.PNG(10, 10)} {
		a, err := opaque(alice, encDM, "holiday.png", data)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != attachments.EncryptedName || a.ContentType != model.EncryptedFileType || a.Size != int64(len(data)) || a.Preview || a.Snippet != "" || a.Width != 0 {
			t.Fatalf("stored as %+v", a)
		}
		got, f := e.read(t, alice, a.ID, false) // not sent yet: its uploader only
		if !bytes.Equal(got, data) || f.ContentType != "application/octet-stream" || f.Inline {
			t.Fatalf("read back %q as %s inline=%v", got, f.ContentType, f.Inline)
		}
	}
	if o, _ := e.leftovers(t); o != 2 {
		t.Fatalf("%d objects for two opaque uploads (no previews expected)", o)
	}
	// The limit: a file of MaxSize encrypts to MaxSize + 16 bytes.
	if _, err := opaque(alice, encDM, "", make([]byte, 1016)); err != nil {
		t.Fatal(err)
	}
	_, err = opaque(alice, encDM, "", make([]byte, 1017))
	wantKind(t, err, apperr.TooLarge, "at most")
}
