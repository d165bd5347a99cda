package poster_test

import (
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/poster"
)

// NeedFFmpeg returns the ffmpeg runner, or skips the test with a clear message when ffmpeg is absent and this
// is not CI (scripts/deps.sh installs it for make test; CI must not silently lose this path).
func needFFmpeg(t *testing.T, cfg poster.Config) *poster.Runner {
	t.Helper()
	r, err := poster.Find(cfg)
	if errors.Is(err, poster.ErrUnavailable) {
		if os.Getenv("CI") != "" {
			t.Fatal("ffmpeg is not installed (scripts/deps.sh ffmpeg installs it)")
		}
		t.Skip("ffmpeg is not installed: video poster frames are not tested (apt-get install ffmpeg, or scripts/deps.sh ffmpeg)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Video makes a small real video with ffmpeg (its test pattern source), w×h, seconds long.
func video(t *testing.T, bin string, w, h int, seconds string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "v.mp4")
	cmd := exec.Command(bin, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
		"testsrc=size="+strconv.Itoa(w)+"x"+strconv.Itoa(h)+":rate=10:duration="+seconds, "-c:v", "mpeg4", "-pix_fmt", "yuv420p", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making a test video: %v: %s", err, b)
	}
	return out
}

func TestFrameOfARealVideo(t *testing.T) {
	r := needFFmpeg(t, poster.Config{})
	for _, c := range []struct{ name, seconds string }{{"two seconds (frame at 1 s)", "2"}, {"shorter than a second (first frame)", "0.3"}} {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "p.png")
			if err := r.Frame(context.Background(), video(t, r.Binary(), 320, 240, c.seconds), dst); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			if err != nil || cfg.Width != 320 || cfg.Height != 240 {
				t.Fatalf("frame %dx%d %v", cfg.Width, cfg.Height, err)
			}
		})
	}
}

func TestFrameFailuresLeaveNothing(t *testing.T) {
	r := needFFmpeg(t, poster.Config{})
	dir := t.TempDir()
	notVideo := filepath.Join(dir, "x.mp4")
	if err := os.WriteFile(notVideo, []byte("\x00\x00\x00\x18ftypmp42 but then nothing of a video"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "p.png")
	if err := r.Frame(context.Background(), notVideo, dst); err == nil {
		t.Fatal("a broken video gave a frame")
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed frame left %s: %v", dst, err)
	}
	// A job over its time is killed and reported as such.
	slow := needFFmpeg(t, poster.Config{Timeout: time.Nanosecond})
	err := slow.Frame(context.Background(), video(t, r.Binary(), 64, 48, "1"), dst)
	if err == nil {
		t.Fatal("a frame within a nanosecond")
	}
	// Under a tiny memory limit ffmpeg cannot even start (prlimit is in force).
	if _, perr := exec.LookPath("prlimit"); perr == nil {
		small := needFFmpeg(t, poster.Config{Memory: 8 << 20})
		if err := small.Frame(context.Background(), video(t, r.Binary(), 64, 48, "1"), dst); err == nil {
			t.Fatal("ffmpeg ran within 8 MiB of address space: the limit is not applied")
		}
	}
}

func TestFindHonoursTheSetting(t *testing.T) {
	if _, err := poster.Find(poster.Config{Binary: "off"}); !errors.Is(err, poster.ErrUnavailable) {
		t.Fatalf("off: %v", err)
	}
	if _, err := poster.Find(poster.Config{Binary: "/nonexistent/ffmpeg"}); err == nil || errors.Is(err, poster.ErrUnavailable) {
		t.Fatalf("a configured ffmpeg that is missing must be a start-up error, got %v", err)
	}
}
