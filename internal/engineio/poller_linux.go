package engineio

import (
	"errors"
	"sync"
	"syscall"
)

// poller watches idle WebSocket connections with one epoll instance, so an idle connection needs no goroutine
// (and no goroutine stack) of its own: when data arrives, a short-lived goroutine handles the burst
// (onReadable) and arms the connection again. Connections are registered one-shot and level-triggered, so a
// connection has at most one reader at a time and data that arrives while it is handled is not missed.
// The Go runtime's own poller keeps watching the same sockets for the reads and writes that do block.
type poller struct {
	epfd int

	mu     sync.Mutex
	conns  map[uint32]pollEntry
	next   uint32
	closed bool // epfd is closed (its number may belong to something else now)

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

type pollEntry struct {
	t *wsTransport
	c *Conn
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: epfd, conns: map[uint32]pollEntry{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// add starts watching a connection.
func (p *poller) add(t *wsTransport, c *Conn) error {
	fd := -1
	if err := t.raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errNoPoller
	}
	for {
		p.next++
		if _, used := p.conns[p.next]; !used && p.next != 0 {
			break
		}
	}
	t.fd, t.token = fd, p.next
	p.conns[t.token] = pollEntry{t, c}
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(t.token)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.conns, t.token)
		t.token = 0
		return err
	}
	return nil
}

// arm watches a registered connection again after a burst was handled.
func (p *poller) arm(t *wsTransport, c *Conn) error {
	if t.token == 0 {
		return p.add(t, c)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.conns[t.token]; !ok || p.closed {
		return errors.New("engineio: connection no longer watched")
	}
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(t.token)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, t.fd, &ev)
}

// remove stops watching a connection. It runs before the socket is closed, so its descriptor number cannot
// have been reused by then.
func (p *poller) remove(t *wsTransport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.conns[t.token]; t.token == 0 || !ok || e.t != t {
		return
	}
	delete(p.conns, t.token)
	if !p.closed {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, t.fd, nil)
	}
}

// close stops the poller; connections still registered keep their state (the server closes them).
func (p *poller) close() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		_ = syscall.Close(p.epfd)
	}
	p.mu.Unlock()
}

func (p *poller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		// A timeout, so close is noticed without a wake-up descriptor.
		n, err := syscall.EpollWait(p.epfd, events, 200)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		p.mu.Lock()
		ready := make([]pollEntry, 0, n)
		for i := 0; i < n; i++ {
			if e, ok := p.conns[uint32(events[i].Fd)]; ok {
				ready = append(ready, e)
			}
		}
		p.mu.Unlock()
		for _, e := range ready {
			go e.t.onReadable(e.c, p)
		}
	}
}
