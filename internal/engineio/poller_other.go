//go:build !linux

package engineio

// Without epoll each WebSocket has a reader goroutine of its own (readLoop).
type poller struct{}

func newPoller() (*poller, error) { return nil, nil }

func (p *poller) add(*wsTransport, *Conn) error { return errNoPoller }
func (p *poller) arm(*wsTransport, *Conn) error { return errNoPoller }
func (p *poller) remove(*wsTransport)           {}
func (p *poller) close()                        {}
