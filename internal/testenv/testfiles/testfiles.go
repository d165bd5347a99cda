// Package testfiles makes the files upload tests send: real images, an image with GPS metadata, a
// decompression bomb, truncated and polyglot files.
package testfiles

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// GPSMarker is the text hidden in JPEGWithGPS's EXIF block; it must never come back from a download.
const GPSMarker = "GPSLatitude=51.5007N;GPSLongitude=0.1246W"

func gradient(w, h int, alpha bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if alpha && x < w/4 {
				a = 0
			}
			img.Set(x, y, color.NRGBA{uint8(x * 255 / max(1, w)), uint8(y * 255 / max(1, h)), 128, a})
		}
	}
	return img
}

// PNG is a w×h opaque PNG.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, gradient(w, h, false))
	return b.Bytes()
}

// TransparentPNG is a w×h PNG whose left quarter is transparent.
func TransparentPNG(w, h int) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, gradient(w, h, true))
	return b.Bytes()
}

// GIF is a w×h single-frame GIF.
func GIF(w, h int) []byte {
	var b bytes.Buffer
	_ = gif.Encode(&b, gradient(w, h, false), nil)
	return b.Bytes()
}

// JPEG is a w×h JPEG without metadata.
func JPEG(w, h int) []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, gradient(w, h, false), &jpeg.Options{Quality: 85})
	return b.Bytes()
}

// JPEGWithGPS is a w×h JPEG carrying an EXIF (APP1) segment with GPSMarker in it, as phones write them.
func JPEGWithGPS(w, h int) []byte {
	plain := JPEG(w, h)
	payload := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"), []byte(GPSMarker)...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, plain[:2]...) // SOI
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, plain[2:]...)
}

// OrientedJPEG is a JPEG as a phone writes a portrait photo: w×h stored pixels (blue, with a red square in the
// stored top-left corner) and an EXIF APP1 segment whose orientation tag (0x0112) says how to turn them upright
// (6: rotate 90° clockwise, so the red square belongs top-right and the upright image is h×w).
func OrientedJPEG(w, h int, orientation uint16) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{20, 40, 220, 255}
			if x < w/4 && y < h/4 {
				c = color.RGBA{230, 20, 20, 255}
			}
			img.Set(x, y, c)
		}
	}
	var plain bytes.Buffer
	_ = jpeg.Encode(&plain, img, &jpeg.Options{Quality: 90})
	// TIFF header (big-endian), IFD0 at offset 8 with one entry: Orientation, SHORT, count 1, value; no next IFD.
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint16(tiff[18:], orientation)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, plain.Bytes()[:2]...) // SOI
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, plain.Bytes()[2:]...)
}

// BombPNG is a tiny valid-looking PNG whose header claims w×h pixels (a decompression bomb's header).
func BombPNG(w, h uint32) []byte {
	b := PNG(8, 8)
	// IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC covers type + data (bytes 12..28).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// Truncated is the first half of a file.
func Truncated(b []byte) []byte { return append([]byte{}, b[:len(b)/2]...) }

// GIFScriptPolyglot starts like a GIF and goes on as HTML with a script.
func GIFScriptPolyglot() []byte {
	return []byte("GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;<html><script>alert(document.cookie)</script></html>")
}

// SVGWithScript is an SVG image that runs script when opened as a document.
const SVGWithScript = `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.domain)</script><rect width="10" height="10"/></svg>`

// HTMLPage is a web page with a script.
const HTMLPage = "<!doctype html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>"

// ELF is the start of a Linux executable (a type the default allow-list refuses).
func ELF() []byte {
	return append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"), make([]byte, 200)...)
}
