//go:build unix

package engineio

import "syscall"

// tryWrite writes as much of b as the socket takes now, without waiting. Returns 0, nil when it takes nothing.
func (t *wsTransport) tryWrite(b []byte) (int, error) {
	if t.raw == nil {
		return 0, nil
	}
	var n int
	var werr error
	err := t.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				return true // one attempt: never park the caller
			}
		}
	})
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
