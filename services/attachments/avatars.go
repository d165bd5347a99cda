package attachments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/disintegration/imaging"
	"golang.org/x/image/draw"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/tracing"
)

// Avatars live in the same object store as attachments, under avatars/<id>.png, and are public (like Discord's
// avatar URLs): whoever sees a user sees their avatar.
const (
	avatarEdge     = 256
	maxAvatarBytes = 8 << 20
)

var avatarName = regexp.MustCompile(`^[0-9]{1,19}\.png$`)

// Avatar stores an avatar image: checked like an image upload (type sniffed, size and pixel limits, decoded),
// cropped to a centred square and re-encoded as a 256×256 PNG, so no metadata survives. It returns the path the
// avatar is served at (/avatars/<id>.png), for the user's profile.
func (s *Service) Avatar(ctx context.Context, u Upload) (string, error) {
	ctx, span := tracing.Start(ctx, "attachments.Avatar")
	defer span.End()
	limit := min(s.cfg.MaxSize, maxAvatarBytes)
	switch {
	case u.Size < 0:
		return "", apperr.New(apperr.Invalid, "send the image as the request body with a Content-Length")
	case u.Size == 0:
		return "", apperr.InvalidField("file", "the file is empty")
	case u.Size > limit:
		return "", apperr.New(apperr.TooLarge, fmt.Sprintf("the image is %s; avatars can be at most %s", humanSize(u.Size), humanSize(limit)))
	}
	if ok, wait := s.limiter.Allow(fmt.Sprint(u.UserID)); !ok {
		return "", apperr.RateLimit(wait)
	}
	spool, err := os.CreateTemp(s.cfg.TempDir, "parley-avatar-*")
	if err != nil {
		return "", err
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	n, err := io.Copy(spool, io.LimitReader(u.Body, u.Size+1))
	if err != nil || n != u.Size {
		return "", apperr.InvalidField("file", fmt.Sprintf("the upload stopped after %d of the %d bytes announced; nothing was stored", n, u.Size))
	}
	head := make([]byte, 512)
	hn, _ := spool.ReadAt(head, 0)
	switch ct := sniff(head[:hn]); ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return "", apperr.InvalidField("file", fmt.Sprintf("an avatar must be a PNG, JPEG, GIF or WebP image, not %s", ct))
	}
	r := io.NewSectionReader(spool, 0, n)
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return "", apperr.InvalidField("file", "the image could not be read (corrupt or truncated)")
	}
	if int64(cfg.Width)*int64(cfg.Height) > s.cfg.MaxPixels {
		return "", apperr.InvalidField("file", fmt.Sprintf("the image is %d×%d pixels; at most %d million pixels are accepted", cfg.Width, cfg.Height, s.cfg.MaxPixels/1_000_000))
	}
	select {
	case s.images <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	img, err := imaging.Decode(io.NewSectionReader(spool, 0, n), imaging.AutoOrientation(true)) // upright, as in images.go
	var out bytes.Buffer
	if err == nil {
		err = png.Encode(&out, squared(img))
	}
	<-s.images
	if err != nil {
		return "", apperr.InvalidField("file", "the image is corrupt or truncated")
	}
	id := s.ids.Next()
	name := fmt.Sprintf("%d.png", id)
	if err := s.objects.Put(ctx, "avatars/"+name, bytes.NewReader(out.Bytes()), int64(out.Len()), "image/png"); err != nil {
		return "", unavailable(err)
	}
	return model.AvatarPathPrefix + name, nil
}

// squared crops the centred square of an image and scales it to avatarEdge.
func squared(img image.Image) image.Image {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	dst := image.NewRGBA(image.Rect(0, 0, avatarEdge, avatarEdge))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, image.Rect(x0, y0, x0+side, y0+side), draw.Src, nil)
	return dst
}

// OpenAvatar returns a stored avatar by its file name (<id>.png); anything else is not found.
func (s *Service) OpenAvatar(ctx context.Context, name string) (io.ReadCloser, int64, error) {
	ctx, span := tracing.Start(ctx, "attachments.OpenAvatar")
	defer span.End()
	if !avatarName.MatchString(name) {
		return nil, 0, apperr.New(apperr.NotFound, "no such avatar")
	}
	rc, size, err := s.objects.Get(ctx, "avatars/"+name)
	if errors.Is(err, model.ErrNotFound) {
		return nil, 0, apperr.New(apperr.NotFound, "no such avatar")
	}
	if err != nil {
		return nil, 0, unavailable(err)
	}
	return rc, size, nil
}

// DeleteAvatar removes an avatar that was replaced or cleared (a path as stored in a profile); paths that are
// not Parley-stored avatars are ignored.
func (s *Service) DeleteAvatar(ctx context.Context, path string) {
	ctx, span := tracing.Start(ctx, "attachments.DeleteAvatar")
	defer span.End()
	name, ok := strings.CutPrefix(path, model.AvatarPathPrefix)
	if !ok || !avatarName.MatchString(name) {
		return
	}
	if err := s.objects.Delete(ctx, "avatars/"+name); err != nil {
		s.log.Warn("deleting a replaced avatar failed", "key", "avatars/"+name, "err", err)
	}
}
