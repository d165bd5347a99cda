// Command uploads measures file uploads against a running server (BENCHMARKS.md, "File uploads"): it registers a
// user, creates a server, and uploads -n files of -size MiB, -c at a time, reporting throughput and, with -pid, the
// server's resident memory sampled every 20 ms (peak and before).
//
//	go run ./bench/uploads -url http://127.0.0.1:18480 -pid $(pgrep -n parley) -kind text -n 20 -c 20 -size 24
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18480", "server URL")
	pid := flag.Int("pid", 0, "server process id (for RSS sampling); 0 = no sampling")
	n := flag.Int("n", 20, "files")
	c := flag.Int("c", 20, "uploads at once")
	size := flag.Int("size", 24, "MiB per file (text) ")
	kind := flag.String("kind", "text", "text (a text file of -size MiB) or jpeg (a 4000×3000 photo)")
	downloads := flag.Int("download", 0, "then download the uploaded files this many times each, -c at once (0 = no downloads)")
	flag.Parse()

	token, channel := setup(*base)
	var body []byte
	switch *kind {
	case "text":
		line := make([]byte, 100)
		_, _ = rand.Read(line)
		for i := range line {
			line[i] = 'a' + line[i]%26
		}
		line[99] = '\n'
		body = bytes.Repeat(line, *size<<20/100)
	case "jpeg":
		img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
		noise := make([]byte, len(img.Pix))
		_, _ = rand.Read(noise)
		for i := range img.Pix {
			img.Pix[i] = noise[i]/4 + uint8(i%4000/16)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 255
		}
		var b bytes.Buffer
		_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
		body = b.Bytes()
		_ = color.White
	default:
		log.Fatalf("unknown -kind %q", *kind)
	}

	var before, peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	if *pid > 0 {
		before.Store(rss(*pid))
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if r := rss(*pid); r > peak.Load() {
						peak.Store(r)
					}
				}
			}
		}()
	}

	sem := make(chan struct{}, *c)
	var wg sync.WaitGroup
	var failed atomic.Int64
	durations := make([]time.Duration, *n)
	files := make([]string, *n) // /files/<id>/<name> of each upload
	start := time.Now()
	for i := 0; i < *n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			u, err := upload(*base, token, channel, fmt.Sprintf("bench-%d.%s", i, map[string]string{"text": "txt", "jpeg": "jpg"}[*kind]), body)
			if err != nil {
				failed.Add(1)
				log.Printf("upload %d: %v", i, err)
			}
			files[i] = u
			durations[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	sampler.Wait()

	slices.Sort(durations)
	total := float64(len(body)) * float64(*n) / (1 << 20)
	fmt.Printf("kind=%s files=%d concurrency=%d file=%.1f MiB total=%.0f MiB failed=%d\n", *kind, *n, *c, float64(len(body))/(1<<20), total, failed.Load())
	fmt.Printf("wall %.2f s, throughput %.1f MiB/s, per-upload p50 %.2f s, max %.2f s\n", elapsed.Seconds(), total/elapsed.Seconds(),
		durations[len(durations)/2].Seconds(), durations[len(durations)-1].Seconds())
	if *pid > 0 {
		fmt.Printf("server RSS before %.1f MiB, peak during %.1f MiB\n", float64(before.Load())/(1<<20), float64(peak.Load())/(1<<20))
	}
	if *downloads > 0 && failed.Load() == 0 {
		download(*base, token, files, *downloads, *c, *pid)
	}
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// download fetches every uploaded file times times, c at once (what the uploader's channel members do), and
// prints the throughput and the server's RSS meanwhile.
func download(base, token string, files []string, times, c, pid int) {
	var peak atomic.Int64
	before := rss(pid)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if r := rss(pid); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	var bytesIn atomic.Int64
	var failed atomic.Int64
	sem := make(chan struct{}, c)
	var wg sync.WaitGroup
	start := time.Now()
	for k := 0; k < times; k++ {
		for _, f := range files {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				req, _ := http.NewRequest("GET", base+f, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				n, _ := io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				bytesIn.Add(n)
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	mib := float64(bytesIn.Load()) / (1 << 20)
	fmt.Printf("downloads %d (%d at once) failed=%d: %.0f MiB in %.2f s, %.1f MiB/s\n", times*len(files), c, failed.Load(), mib, elapsed.Seconds(), mib/elapsed.Seconds())
	if pid > 0 {
		fmt.Printf("server RSS before downloads %.1f MiB, peak during %.1f MiB\n", float64(before)/(1<<20), float64(peak.Load())/(1<<20))
	}
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// rss reads a process's resident set size in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func call(method, url, token string, in, out any) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		log.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		_ = json.Unmarshal(b, out)
	}
}

func setup(base string) (token, channel string) {
	name := fmt.Sprintf("bench%d", time.Now().UnixNano()%1_000_000_000)
	var auth struct{ AccessToken string }
	call("POST", base+"/api/auth/register", "", map[string]string{"username": name, "email": name + "@example.com", "password": "correct horse battery"}, &auth)
	var srv struct{ ID string }
	call("POST", base+"/api/servers", auth.AccessToken, map[string]string{"name": "Upload bench"}, &srv)
	var chans struct{ Channels []struct{ ID string } }
	call("GET", base+"/api/servers/"+srv.ID+"/channels", auth.AccessToken, nil, &chans)
	return auth.AccessToken, chans.Channels[0].ID
}

func upload(base, token, channel, name string, body []byte) (string, error) {
	req, _ := http.NewRequest("POST", base+"/api/channels/"+channel+"/attachments?filename="+name, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("%d %s", res.StatusCode, b)
	}
	var out struct{ Attachment struct{ URL string } }
	_ = json.Unmarshal(b, &out)
	return out.Attachment.URL, nil
}
