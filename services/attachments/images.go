package attachments

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"github.com/disintegration/imaging"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder

	"github.com/parleychat/parley/internal/apperr"
)

// previewEdge bounds a preview's longer side (Discord shows inline images at most ~550 px wide).
const previewEdge = 640

// processedImage is what an uploaded image becomes: the bytes others download (re-encoded, so no EXIF, GPS
// or other metadata survives), their type, the dimensions, and a small preview.
type processedImage struct {
	reencoded   bool // false: serve the upload as it is (GIF: no EXIF in the format, and animation is kept)
	contentType string
	ext         string // the served file's extension when it changed type ("" otherwise)
	width       int
	height      int
	preview     []byte
	previewType string
}

// processImage checks an image's header against the pixel limit before decoding anything (a decompression bomb
// is a small file that claims a huge canvas), decodes it (truncated or corrupt files fail here), and re-encodes
// it. GIFs are decoded only up to their first frame (the preview): their frame count is not in the header.
// The re-encoded file is written to dst (a temporary file, not memory).
func processImage(r io.ReadSeeker, dst io.Writer, contentType string, maxPixels int64) (processedImage, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return processedImage{}, apperr.InvalidField("file", "the image could not be read (corrupt, truncated or not really "+contentType+")")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return processedImage{}, apperr.InvalidField("file", "the image has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return processedImage{}, apperr.InvalidField("file", fmt.Sprintf("the image is %d×%d pixels; at most %d million pixels are accepted",
			cfg.Width, cfg.Height, maxPixels/1_000_000))
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return processedImage{}, err
	}
	// A phone stores a portrait photo as landscape pixels plus an EXIF orientation tag. Re-encoding drops the
	// tag with the rest of the metadata, so the pixels are turned upright first (and the reported dimensions
	// are the upright ones), or the photo would show sideways everywhere.
	img, err := imaging.Decode(r, imaging.AutoOrientation(true))
	if err != nil {
		return processedImage{}, apperr.InvalidField("file", "the image is corrupt or truncated")
	}
	out := processedImage{contentType: contentType, width: img.Bounds().Dx(), height: img.Bounds().Dy()}
	switch contentType {
	case "image/jpeg":
		if err := jpeg.Encode(dst, img, &jpeg.Options{Quality: 90}); err != nil {
			return processedImage{}, err
		}
		out.reencoded = true
	case "image/png":
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(dst, img); err != nil {
			return processedImage{}, err
		}
		out.reencoded = true
	case "image/webp":
		// The standard library has no WebP encoder; a WebP can carry EXIF, so others get a PNG of it.
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(dst, img); err != nil {
			return processedImage{}, err
		}
		out.reencoded, out.contentType, out.ext = true, "image/png", ".png"
	case "image/gif":
		// Served as uploaded: GIF has no EXIF, and re-encoding would need every frame decoded.
	}
	out.preview, out.previewType, err = makePreview(img)
	return out, err
}

// makePreview scales an image to fit previewEdge (never up) as a JPEG, or PNG when it has transparency.
func makePreview(img image.Image) ([]byte, string, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > previewEdge || h > previewEdge {
		if w >= h {
			w, h = previewEdge, max(1, h*previewEdge/b.Dx())
		} else {
			w, h = max(1, w*previewEdge/b.Dy()), previewEdge
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	if !dst.Opaque() {
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, dst); err != nil {
			return nil, "", err
		}
		return buf.Bytes(), "image/png", nil
	}
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "image/jpeg", nil
}

var _ = gif.Decode // the GIF decoder is registered by importing image/gif

// videoPoster has ffmpeg write a frame of the video to a temporary file, then checks that frame like an
// uploaded image (pixel limit, decode) and re-encodes it as the preview; width and height are the frame's.
func (s *Service) videoPoster(ctx context.Context, video string) (preview []byte, previewType string, w, h int, err error) {
	f, err := os.CreateTemp(s.cfg.TempDir, "parley-poster-*.png")
	if err != nil {
		return nil, "", 0, 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := s.cfg.Posters.Frame(ctx, video, f.Name()); err != nil {
		return nil, "", 0, 0, err
	}
	frame, err := os.Open(f.Name())
	if err != nil {
		return nil, "", 0, 0, err
	}
	defer frame.Close()
	cfg, err := png.DecodeConfig(frame)
	if err != nil || int64(cfg.Width)*int64(cfg.Height) > s.cfg.MaxPixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", 0, 0, fmt.Errorf("poster frame unusable (%dx%d): %v", cfg.Width, cfg.Height, err)
	}
	if _, err := frame.Seek(0, io.SeekStart); err != nil {
		return nil, "", 0, 0, err
	}
	select {
	case s.images <- struct{}{}:
	case <-ctx.Done():
		return nil, "", 0, 0, ctx.Err()
	}
	defer func() { <-s.images }()
	img, err := png.Decode(frame)
	if err != nil {
		return nil, "", 0, 0, err
	}
	preview, previewType, err = makePreview(img)
	return preview, previewType, cfg.Width, cfg.Height, err
}
