// Package attachments handles files in messages (issue #17): uploads streamed through the server to a temporary
// file and then to the object store, with the type sniffed from the bytes, the size and pixel limits enforced,
// images re-encoded (no EXIF or GPS reaches others) with a preview; downloads checked against channel access on
// every request; claims by message sends; deletion with their message; a collector for uploads never sent.
package attachments

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/tracing"
)

// Store keeps attachment metadata (Postgres).
type Store interface {
	Create(ctx context.Context, a model.Attachment) error
	Get(ctx context.Context, id int64) (model.Attachment, error)
	Claim(ctx context.Context, ownerID, channelID int64, nonce string, ids []int64) ([]model.Attachment, error)
	Attach(ctx context.Context, messageID int64, ids []int64) error
	Delete(ctx context.Context, ids []int64) error
	ByIDs(ctx context.Context, ids []int64) ([]model.Attachment, error)
	Unsent(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error)
	// The sweeper's questions (sweep.go).
	StaleClaims(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error)
	GoneChannels(ctx context.Context, limit int) ([]int64, error)
	InChannel(ctx context.Context, channelID int64, limit int) ([]model.Attachment, error)
	ForgetGoneChannel(ctx context.Context, channelID int64) (bool, error)
	ImagesInUse(ctx context.Context, paths []string) ([]string, error)
	MarkDeleting(ctx context.Context, messageID int64, ids []int64) error
	StaleDeletions(ctx context.Context, before time.Time, limit int) ([]model.Attachment, error)
	KeepDeleting(ctx context.Context, ids []int64) error
}

// Objects holds the bytes (the local file system or S3). Get's reader is also an io.Seeker for both stores,
// which lets downloads answer Range requests (video seeking).
type Objects interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
	// Keys lists up to limit keys under a folder after a key, in order (the sweeper's walk).
	Keys(ctx context.Context, prefix, after string, limit int) ([]string, error)
}

// Access answers whether a user may read a channel (community: members of its server, or of the DM).
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
}

// IDs hands out time-ordered ids.
type IDs interface{ Next() int64 }

// Config holds the limits (PARLEY_UPLOAD_*).
type Config struct {
	MaxSize     int64    // bytes per file
	Types       []string // allowed sniffed types ("image/png", "text/*")
	MaxPixels   int64    // width × height of an image
	UploadEvery time.Duration
	UploadBurst int
	UnsentTTL   time.Duration // uploads never sent are collected after this long
	TempDir     string        // where uploads are spooled ("" = the system's)
	// MaxPerMessage bounds the files of one message (Discord: 10).
	MaxPerMessage int
	// OrphanGrace: the sweeper leaves objects and claims younger than this alone (an upload or a send may
	// still be on its way). SweepPage: keys of the store one sweep looks at per folder.
	OrphanGrace time.Duration
	SweepPage   int
	// Sent finds stored messages for the sweeper's old claims (nil: such claims are left alone).
	Sent SentMessages
	// Posters makes video poster frames (ffmpeg; nil: videos get the player's generic poster).
	Posters Posters
}

// Posters writes a PNG of a frame of a video file (internal/poster runs ffmpeg).
type Posters interface {
	Frame(ctx context.Context, video, png string) error
}

func (c *Config) defaults() {
	if c.MaxSize <= 0 {
		c.MaxSize = 25 << 20
	}
	if len(c.Types) == 0 {
		c.Types = strings.Split(DefaultTypes, ",")
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 40_000_000
	}
	if c.UploadEvery <= 0 {
		c.UploadEvery = 2 * time.Second
	}
	if c.UploadBurst <= 0 {
		c.UploadBurst = 20
	}
	if c.UnsentTTL <= 0 {
		c.UnsentTTL = 24 * time.Hour
	}
	if c.MaxPerMessage <= 0 {
		c.MaxPerMessage = 10
	}
	if c.OrphanGrace <= 0 {
		c.OrphanGrace = time.Hour
	}
	if c.SweepPage <= 0 {
		c.SweepPage = 5000
	}
}

// Service implements attachments.
type Service struct {
	store   Store
	objects Objects
	access  Access
	ids     IDs
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	limiter *ratelimit.Keyed
	// images bounds concurrent image decodes: a 40-megapixel image takes up to 160 MB while it is decoded.
	images chan struct{}

	sweepMu sync.Mutex
	cursor  map[string]string // per folder of the store: the last key the sweeper looked at

	bg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
}

// New builds the service; Start runs its collector.
func New(store Store, objects Objects, access Access, ids IDs, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	return &Service{store: store, objects: objects, access: access, ids: ids, cfg: cfg, log: log, now: time.Now,
		limiter: ratelimit.New(cfg.UploadEvery, cfg.UploadBurst), images: make(chan struct{}, 2), stop: make(chan struct{}),
		cursor: map[string]string{}}
}

// Limits reports the configured limits (for the API and the web app).
func (s *Service) Limits() Config { return s.cfg }

// Upload is one file as a client sends it.
type Upload struct {
	UserID, ChannelID int64
	Name              string
	Size              int64 // the announced length (Content-Length); -1 if unknown
	Body              io.Reader
	// Opaque: the body is a file the browser encrypted (an end-to-end encrypted DM, README "Files in encrypted
	// DMs"). Its name, type and dimensions travel inside the MLS message; the server stores the bytes as they are.
	Opaque bool
}

// EncryptedType is the stored type of an opaque upload (model.EncryptedFileType).
const EncryptedType = model.EncryptedFileType

// EncryptedName is the stored name of every opaque upload (the real one is inside the MLS message).
const EncryptedName = "encrypted.bin"

// gcmTag is what AES-GCM adds to a file: an encrypted file of the size limit still fits.
const gcmTag = 16

func objectKey(id int64) string { return fmt.Sprintf("att/%d/file", id) }

// previewKey names a preview by its format: previews are JPEG, or PNG when the image has transparency.
func previewKey(id int64, contentType string) string {
	if contentType == "image/png" {
		return fmt.Sprintf("att/%d/preview.png", id)
	}
	return fmt.Sprintf("att/%d/preview.jpg", id)
}

// Upload stores a file for a later message in the channel. The body is copied to a temporary file as it
// arrives (never held in memory) and checked there; only a file that passed every check reaches the object
// store, and its row is written last, so a failure at any step leaves nothing behind.
func (s *Service) Upload(ctx context.Context, u Upload) (model.Attachment, error) {
	ctx, span := tracing.Start(ctx, "attachments.Upload")
	defer span.End()
	maxSize := s.cfg.MaxSize
	if u.Opaque {
		maxSize += gcmTag
	}
	switch {
	case u.Size < 0:
		return model.Attachment{}, apperr.New(apperr.Invalid, "send the file as the request body with a Content-Length")
	case u.Size == 0:
		return model.Attachment{}, apperr.InvalidField("file", "the file is empty")
	case u.Size > maxSize:
		return model.Attachment{}, apperr.New(apperr.TooLarge, fmt.Sprintf("the file is %s; files can be at most %s", humanSize(u.Size), humanSize(s.cfg.MaxSize)))
	}
	if ok, wait := s.limiter.Allow(fmt.Sprint(u.UserID)); !ok {
		return model.Attachment{}, apperr.RateLimit(wait)
	}
	if ch, _, err := s.access.CanRead(ctx, u.UserID, u.ChannelID); err != nil {
		return model.Attachment{}, err
	} else if ch.Encrypted && !u.Opaque {
		// Stored here, the bytes would be in the clear in an end-to-end encrypted conversation.
		return model.Attachment{}, &apperr.Error{Kind: apperr.EncryptionRequired, Field: "file",
			Message: "this conversation is end-to-end encrypted: files must be encrypted on your device (encrypted=1)"}
	} else if u.Opaque && !ch.Encrypted {
		// The other members could not decrypt it, and the server could not preview it.
		return model.Attachment{}, apperr.InvalidField("encrypted", "end-to-end encryption is not turned on in this conversation: turn it on first")
	}

	spool, err := os.CreateTemp(s.cfg.TempDir, "parley-upload-*")
	if err != nil {
		return model.Attachment{}, err
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	n, err := io.Copy(spool, io.LimitReader(u.Body, u.Size+1))
	if err != nil || n != u.Size {
		// An aborted request, a body shorter than its Content-Length, or a read deadline.
		return model.Attachment{}, apperr.InvalidField("file", fmt.Sprintf("the upload stopped after %d of the %d bytes announced; nothing was stored", n, u.Size))
	}
	if u.Opaque {
		return s.storeOpaque(ctx, u, spool, n)
	}
	head := make([]byte, 3072)
	hn, _ := spool.ReadAt(head, 0)
	head = head[:hn]
	ct := sniff(head)
	if !allowed(s.cfg.Types, ct) {
		return model.Attachment{}, apperr.InvalidField("file", fmt.Sprintf("files of this type (%s) are not allowed", ct))
	}

	id := s.ids.Next()
	a := model.Attachment{ID: id, OwnerID: u.UserID, ChannelID: u.ChannelID, Status: model.AttachmentReady, Name: SafeName(u.Name),
		ContentType: ct, Size: n, ObjectKey: objectKey(id), CreatedAt: s.now().UTC()}
	var src io.Reader = io.NewSectionReader(spool, 0, n)
	var preview []byte
	var previewType string
	if strings.HasPrefix(ct, "image/") && ct != "image/svg+xml" {
		reenc, err := os.CreateTemp(s.cfg.TempDir, "parley-image-*")
		if err != nil {
			return model.Attachment{}, err
		}
		defer func() { reenc.Close(); os.Remove(reenc.Name()) }()
		select {
		case s.images <- struct{}{}:
		case <-ctx.Done():
			return model.Attachment{}, ctx.Err()
		}
		w := bufio.NewWriterSize(reenc, 64<<10)
		pi, err := processImage(io.NewSectionReader(spool, 0, n), w, ct, s.cfg.MaxPixels)
		if err == nil {
			err = w.Flush()
		}
		<-s.images
		if err != nil {
			return model.Attachment{}, err
		}
		a.Width, a.Height, a.ContentType = pi.width, pi.height, pi.contentType
		if pi.ext != "" {
			a.Name = withExt(a.Name, pi.ext)
		}
		if pi.reencoded {
			fi, err := reenc.Stat()
			if err != nil {
				return model.Attachment{}, err
			}
			a.Size, src = fi.Size(), io.NewSectionReader(reenc, 0, fi.Size())
		}
		preview, previewType = pi.preview, pi.previewType
	}
	if isText(ct) {
		a.Snippet = snippet(head)
	}
	if strings.HasPrefix(ct, "video/") && s.cfg.Posters != nil {
		// A video without a poster is still a good upload: a failure only costs the preview.
		var err error
		if preview, previewType, a.Width, a.Height, err = s.videoPoster(ctx, spool.Name()); err != nil {
			if ctx.Err() != nil {
				return model.Attachment{}, unavailable(ctx.Err())
			}
			s.log.Info("no poster frame for a video", "err", err)
		}
	}

	if preview != nil {
		a.PreviewKey, a.Preview = previewKey(id, previewType), true
		if err := s.objects.Put(ctx, a.PreviewKey, strings.NewReader(string(preview)), int64(len(preview)), previewType); err != nil {
			return model.Attachment{}, unavailable(err)
		}
	}
	if err := s.objects.Put(ctx, a.ObjectKey, src, a.Size, a.ContentType); err != nil {
		s.deleteObjects(a)
		return model.Attachment{}, unavailable(err)
	}
	if err := s.store.Create(ctx, a); err != nil {
		s.deleteObjects(a)
		return model.Attachment{}, unavailable(err)
	}
	return a, nil
}

// storeOpaque keeps an encrypted file as it came: no sniffing, no decoding, no preview, poster or snippet (the
// bytes are ciphertext), a neutral name and type. Size limit, rate limit, access checks and deletion are those
// of any file.
func (s *Service) storeOpaque(ctx context.Context, u Upload, spool *os.File, n int64) (model.Attachment, error) {
	id := s.ids.Next()
	a := model.Attachment{ID: id, OwnerID: u.UserID, ChannelID: u.ChannelID, Status: model.AttachmentReady, Name: EncryptedName,
		ContentType: EncryptedType, Size: n, ObjectKey: objectKey(id), CreatedAt: s.now().UTC()}
	if err := s.objects.Put(ctx, a.ObjectKey, io.NewSectionReader(spool, 0, n), n, "application/octet-stream"); err != nil {
		s.deleteObjects(a)
		return model.Attachment{}, unavailable(err)
	}
	if err := s.store.Create(ctx, a); err != nil {
		s.deleteObjects(a)
		return model.Attachment{}, unavailable(err)
	}
	return a, nil
}

// snippetLines and snippetBytes bound a text preview (its first lines, as Slack shows them).
const (
	snippetLines = 12
	snippetBytes = 2048
)

// snippet is the first lines of a text file, or "" when it is not UTF-8 text.
func snippet(head []byte) string {
	if len(head) > snippetBytes {
		head = head[:snippetBytes]
	}
	for len(head) > 0 && !utf8.Valid(head) { // the cut may split a character
		head = head[:len(head)-1]
	}
	lines := strings.SplitAfterN(string(head), "\n", snippetLines+1)
	if len(lines) > snippetLines {
		lines = lines[:snippetLines]
	}
	out := strings.TrimRight(strings.Join(lines, ""), "\n")
	if strings.ContainsRune(out, 0) {
		return ""
	}
	return out
}

// File is an attachment opened for download.
type File struct {
	Attachment  model.Attachment
	Body        io.ReadCloser
	Size        int64
	ContentType string // what to send: never an active type (see ServedType)
	Inline      bool
}

// Open returns an attachment's file (or its preview) for a user who may read its channel. An upload not yet
// sent is visible to its owner only. Every call checks access, so a removed member loses access at once.
func (s *Service) Open(ctx context.Context, userID, id int64, preview bool) (File, error) {
	ctx, span := tracing.Start(ctx, "attachments.Open")
	defer span.End()
	a, err := s.store.Get(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return File{}, apperr.New(apperr.NotFound, "no such file")
	}
	if err != nil {
		return File{}, unavailable(err)
	}
	if a.Status == model.AttachmentReady && a.OwnerID != userID {
		return File{}, apperr.New(apperr.NotFound, "no such file")
	}
	if _, _, err := s.access.CanRead(ctx, userID, a.ChannelID); err != nil {
		if apperr.Is(err, apperr.Forbidden) {
			return File{}, apperr.New(apperr.NotFound, "no such file") // do not confirm that it exists
		}
		return File{}, err
	}
	key, ct, inline := a.ObjectKey, "", false
	if preview {
		if !a.Preview {
			return File{}, apperr.New(apperr.NotFound, "this file has no preview")
		}
		key, ct, inline = a.PreviewKey, "image/jpeg", true
		if strings.HasSuffix(key, ".png") {
			ct = "image/png"
		}
	} else {
		ct, inline = ServedType(a.ContentType)
	}
	body, size, err := s.objects.Get(ctx, key)
	if errors.Is(err, model.ErrNotFound) {
		return File{}, apperr.New(apperr.NotFound, "the file is gone")
	}
	if err != nil {
		return File{}, unavailable(err)
	}
	return File{Attachment: a, Body: body, Size: size, ContentType: ct, Inline: inline}, nil
}

// Claim takes a user's uploads for a message being sent in a channel (all or none, in the order given). A retry
// of the same send (same nonce) claims them again.
func (s *Service) Claim(ctx context.Context, userID, channelID int64, nonce string, ids []int64) ([]model.Attachment, error) {
	ctx, span := tracing.Start(ctx, "attachments.Claim")
	defer span.End()
	if len(ids) > s.cfg.MaxPerMessage {
		return nil, apperr.InvalidField("attachments", fmt.Sprintf("a message can carry at most %d files", s.cfg.MaxPerMessage))
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, apperr.InvalidField("attachments", "the same file is attached twice")
		}
		seen[id] = true
	}
	as, err := s.store.Claim(ctx, userID, channelID, nonce, ids)
	if errors.Is(err, model.ErrNotFound) {
		return nil, apperr.InvalidField("attachments", "a file is missing, was uploaded to another channel or by someone else, or was already sent")
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return as, nil
}

// MessageStored records the message that carries attachments (a messaging observer). It runs off the flush
// path; if it is lost (a crash), the rows stay "claimed": never collected, never served to others than members.
func (s *Service) MessageStored(m model.Message) {
	if len(m.Attachments) == 0 {
		return
	}
	ids := attachmentIDs(m.Attachments)
	s.background(func(ctx context.Context) {
		if err := s.store.Attach(ctx, m.ID, ids); err != nil {
			s.log.Warn("recording attachments of a message failed", "message", m.ID, "err", err)
		}
	})
}

// Deleting marks a message's files before the message is deleted, so that a crash between deleting the message
// and deleting its files leaves them findable (the sweeper finishes the job).
func (s *Service) Deleting(ctx context.Context, m model.Message) error {
	if len(m.Attachments) == 0 {
		return nil
	}
	if err := s.store.MarkDeleting(ctx, m.ID, attachmentIDs(m.Attachments)); err != nil {
		return unavailable(err)
	}
	return nil
}

// MessageDeleted deletes a deleted message's files: objects first, then rows (a failure leaves the row, so
// nothing is ever left that no row points to).
func (s *Service) MessageDeleted(m model.Message) {
	if len(m.Attachments) == 0 {
		return
	}
	ids := attachmentIDs(m.Attachments)
	s.background(func(ctx context.Context) {
		as, err := s.store.ByIDs(ctx, ids)
		if err == nil {
			err = s.remove(ctx, as)
		}
		if err != nil {
			s.log.Warn("deleting the files of a deleted message failed", "message", m.ID, "err", err)
		}
	})
}

// remove deletes attachments' objects, then their rows.
func (s *Service) remove(ctx context.Context, as []model.Attachment) error {
	var done []int64
	var firstErr error
	for _, a := range as {
		err := s.objects.Delete(ctx, a.ObjectKey)
		if err == nil && a.PreviewKey != "" {
			err = s.objects.Delete(ctx, a.PreviewKey)
		}
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		done = append(done, a.ID)
	}
	if len(done) > 0 {
		firstErr = cmpErr(firstErr, s.store.Delete(ctx, done))
	}
	return firstErr
}

// Collect deletes uploads never sent within UnsentTTL; it returns how many it removed.
func (s *Service) Collect(ctx context.Context) (int, error) {
	total := 0
	for {
		as, err := s.store.Unsent(ctx, s.now().Add(-s.cfg.UnsentTTL), 500)
		if err != nil || len(as) == 0 {
			return total, err
		}
		if err := s.remove(ctx, as); err != nil {
			return total, err
		}
		total += len(as)
		if len(as) < 500 {
			return total, nil
		}
	}
}

// Start runs the sweeper (Sweep) every interval until Close.
func (s *Service) Start(interval time.Duration) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if w, err := s.Sweep(ctx); err != nil {
					s.log.Warn("sweeping unreferenced files failed", "err", err, "swept", w)
				} else if w.total() > 0 {
					s.log.Info("swept unreferenced files", "unsent", w.Unsent, "goneChannels", w.GoneChannels,
						"staleClaims", w.StaleClaims, "repaired", w.Repaired, "deleted", w.Deleted, "objects", w.Objects)
				}
				cancel()
			}
		}
	}()
}

// Close stops the collector and waits for background writes.
func (s *Service) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.bg.Wait()
}

func (s *Service) background(f func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f(ctx)
	}()
}

func (s *Service) deleteObjects(a model.Attachment) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, k := range []string{a.ObjectKey, a.PreviewKey} {
		if k != "" {
			if err := s.objects.Delete(ctx, k); err != nil {
				s.log.Warn("removing the objects of a failed upload failed", "key", k, "err", err)
			}
		}
	}
}

func attachmentIDs(as []model.Attachment) []int64 {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func unavailable(err error) error {
	if _, ok := err.(*apperr.Error); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return apperr.InvalidField("file", "the upload was cancelled; nothing was stored")
	}
	return &apperr.Error{Kind: apperr.Unavailable, Message: "files cannot be stored right now; retry shortly", Err: err}
}

// humanSize prints 25 MiB, 3.2 MiB, 512 KiB.
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		if n%(1<<20) == 0 {
			return fmt.Sprintf("%d MiB", n>>20)
		}
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
