// Package poster makes a video's poster frame with ffmpeg (issue #17): one still image that the web app shows
// before the video plays. ffmpeg parses untrusted files, so it runs with no shell, a minimal environment, only
// the file protocol (no playlist can make it fetch a URL), one thread, a timeout, memory/CPU/file limits
// (prlimit, when installed) and a bounded number of jobs at once.
package poster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Config tunes the runner.
type Config struct {
	Binary  string        // ffmpeg to run: a path, "" to look it up in PATH, "off" to make no posters
	Jobs    int           // frames made at once (default 1: a 2-core node serves chat first)
	Timeout time.Duration // per frame (default 20 s)
	Memory  int64         // address-space limit in bytes (default 1 GiB)
}

// Runner runs ffmpeg.
type Runner struct {
	bin, prlimit string
	cfg          Config
	jobs         chan struct{}
}

// ErrUnavailable: no ffmpeg was found (or posters are off); callers keep their generic poster.
var ErrUnavailable = errors.New("poster: ffmpeg is not available")

// Find locates ffmpeg; it returns ErrUnavailable when there is none (or cfg.Binary is "off").
func Find(cfg Config) (*Runner, error) {
	if cfg.Binary == "off" {
		return nil, ErrUnavailable
	}
	name := cfg.Binary
	if name == "" {
		name = "ffmpeg"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		if cfg.Binary != "" {
			return nil, fmt.Errorf("poster: PARLEY_FFMPEG=%q: %w", cfg.Binary, err)
		}
		return nil, ErrUnavailable
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.Memory <= 0 {
		cfg.Memory = 1 << 30
	}
	prl, _ := exec.LookPath("prlimit") // util-linux; without it the timeout and the job bound still hold
	return &Runner{bin: bin, prlimit: prl, cfg: cfg, jobs: make(chan struct{}, cfg.Jobs)}, nil
}

// Binary is the ffmpeg in use.
func (r *Runner) Binary() string { return r.bin }

// Frame writes a PNG of a frame of the video at src to dst: one second in (past a fade from black), or the
// first frame of a shorter video. An error means no poster; dst is then removed.
func (r *Runner) Frame(ctx context.Context, src, dst string) error {
	select {
	case r.jobs <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.jobs }()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	err := r.run(ctx, src, dst, "1")
	if (err != nil || empty(dst)) && ctx.Err() == nil {
		// A clip shorter than a second has no frame there (ffmpeg says so, or writes nothing): take the first.
		err = r.run(ctx, src, dst, "0")
	}
	if err == nil && empty(dst) {
		err = errors.New("poster: the video has no frame")
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

func (r *Runner) run(ctx context.Context, src, dst, at string) error {
	args := []string{
		"-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", "-filter_threads", "1",
		"-protocol_whitelist", "file", "-ss", at, "-i", "file:" + src,
		"-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-f", "image2", "-c:v", "png", "-y", "file:" + dst,
	}
	name := r.bin
	if r.prlimit != "" {
		// Address space, CPU seconds, open files, and no core dumps; prlimit then execs ffmpeg in its place.
		args = append([]string{"--as=" + strconv.FormatInt(r.cfg.Memory, 10), "--cpu=" + strconv.Itoa(int(r.cfg.Timeout.Seconds())+1),
			"--nofile=64", "--core=0", "--", r.bin}, args...)
		name = r.prlimit
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 4096}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("poster: ffmpeg took longer than %s", r.cfg.Timeout)
		}
		return fmt.Errorf("poster: ffmpeg: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

func empty(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.Size() == 0
}

// limited keeps the first n bytes written (ffmpeg's error text) and drops the rest.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
