// Command healthprobe is the container health check of the Parley image: it GETs one URL and exits 0 when the
// answer is 200 OK, 1 otherwise. The runtime image has no curl or wget, so this static binary (a few MB, no
// libc) is copied next to the server and named by the Dockerfile's HEALTHCHECK and compose.yaml:
//
//	parley-healthcheck http://127.0.0.1:8080/readyz
//
// It is part of the image only; the server itself does not use it.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// timeout bounds the whole probe; Docker's own --timeout (5 s in the Dockerfile) is the outer limit.
const timeout = 4 * time.Second

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: parley-healthcheck URL")
		os.Exit(2)
	}
	if err := probe(context.Background(), http.DefaultTransport, os.Args[1], timeout); err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		os.Exit(1)
	}
}

// probe returns nil when GET url answers 200 within the timeout. The first 512 bytes of any other answer (the
// /readyz JSON names the dependency that is down) go into the error, so `docker inspect` shows why.
func probe(ctx context.Context, rt http.RoundTripper, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a redirect is not "ready"
	}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return nil
}
