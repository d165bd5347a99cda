//go:build unix

package engineio

import "syscall"

// rawWrite is the state of one non-blocking write, kept on the transport so the callback passed to
// RawConn.Write is built once per connection instead of allocated per delivery. Guarded by the Conn's mu,
// which every caller of tryWrite holds.
type rawWrite struct {
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// tryWrite writes as much of b as the socket takes now, without waiting. Returns 0, nil when it takes nothing.
func (t *wsTransport) tryWrite(b []byte) (int, error) {
	if t.raw == nil {
		return 0, nil
	}
	w := &t.rw
	if w.fn == nil {
		w.fn = func(fd uintptr) bool {
			for {
				w.n, w.err = syscall.Write(int(fd), w.buf)
				if w.err != syscall.EINTR {
					return true // one attempt: never park the caller
				}
			}
		}
	}
	w.buf = b
	err := t.raw.Write(w.fn)
	n, werr := w.n, w.err
	w.buf, w.err = nil, nil
	if err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return max(n, 0), nil
}
