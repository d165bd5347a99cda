package socketio

import "sync"

// Namespace groups sockets, their handlers and their rooms.
type Namespace struct {
	name    string
	srv     *Server
	adapter Adapter

	// Set up before serving, read-only afterwards.
	middleware   []func(*Socket) error
	handlers     map[string]EventHandler
	onConnect    []func(*Socket)
	onDisconnect []func(*Socket, string)
	onAbandon    []func(*Socket)

	mu      sync.Mutex
	sockets map[*Socket]struct{}
}

// Name of the namespace ("/" is the main one).
func (n *Namespace) Name() string { return n.name }

// SetAdapter replaces the in-process adapter (before serving).
func (n *Namespace) SetAdapter(a Adapter) { n.adapter = a }

// Adapter is the namespace's room adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds middleware that runs for each CONNECT before the client is told it is connected. An error refuses
// the connection (a *ConnectError sets the message and data the client sees).
func (n *Namespace) Use(fn func(*Socket) error) { n.middleware = append(n.middleware, fn) }

// On registers the handler of an event.
func (n *Namespace) On(event string, h EventHandler) { n.handlers[event] = h }

// OnConnection and OnDisconnect register lifecycle hooks.
func (n *Namespace) OnConnection(fn func(*Socket)) { n.onConnect = append(n.onConnect, fn) }
func (n *Namespace) OnDisconnect(fn func(*Socket, string)) {
	n.onDisconnect = append(n.onDisconnect, fn)
}

// OnAbandon registers a hook for a socket that passed every middleware but whose transport closed before it was
// connected: neither connection nor disconnect hooks run for it, so middleware that reserved something for the
// socket (a connection slot) releases it here.
func (n *Namespace) OnAbandon(fn func(*Socket)) { n.onAbandon = append(n.onAbandon, fn) }

func (n *Namespace) handler(event string) EventHandler { return n.handlers[event] }

// Count is the number of connected sockets.
func (n *Namespace) Count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sockets)
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s] = struct{}{}
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s)
	n.mu.Unlock()
	n.adapter.LeaveAll(s)
}

// To targets the sockets in any of the rooms (each once).
func (n *Namespace) To(rooms ...Room) Operator {
	return Operator{nsp: n, opts: BroadcastOptions{Rooms: rooms}}
}

// In is To.
func (n *Namespace) In(rooms ...Room) Operator { return n.To(rooms...) }

// Except targets every socket of the namespace but those in the rooms.
func (n *Namespace) Except(rooms ...Room) Operator {
	return Operator{nsp: n, opts: BroadcastOptions{Except: rooms}}
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return Operator{nsp: n}.Emit(event, args...)
}

// Operator is a broadcast target: rooms (none: everyone) minus the sockets in the except rooms.
type Operator struct {
	nsp   *Namespace
	opts  BroadcastOptions
	local bool
}

// Local limits the targets to this node's sockets (an event every node emits itself, from a source each reads).
func (o Operator) Local() Operator {
	o.local = true
	return o
}

// To adds rooms.
func (o Operator) To(rooms ...Room) Operator {
	o.opts.Rooms = append(o.opts.Rooms[:len(o.opts.Rooms):len(o.opts.Rooms)], rooms...)
	return o
}

// Except adds rooms whose sockets are left out.
func (o Operator) Except(rooms ...Room) Operator {
	o.opts.Except = append(o.opts.Except[:len(o.opts.Except):len(o.opts.Except)], rooms...)
	return o
}

// Emit encodes the event once and sends it to every target.
func (o Operator) Emit(event string, args ...any) error {
	o.nsp.srv.tapped(event, false, args)
	p, err := encodeEvent(o.nsp.name, -1, event, args)
	if err != nil {
		return err
	}
	a := o.nsp.adapter
	if l, ok := a.(interface{ Local() Adapter }); ok && o.local {
		a = l.Local()
	}
	a.Broadcast(p, o.opts)
	return nil
}

// SocketsJoin makes the targets join rooms (on every node).
func (o Operator) SocketsJoin(rooms ...Room) { o.nsp.adapter.Apply(o.opts, RoomAction{Join: rooms}) }

// SocketsLeave makes the targets leave rooms (on every node).
func (o Operator) SocketsLeave(rooms ...Room) { o.nsp.adapter.Apply(o.opts, RoomAction{Leave: rooms}) }

// DisconnectSockets disconnects the targets (on every node); with closeConn their connections close too.
func (o Operator) DisconnectSockets(closeConn bool) {
	o.nsp.adapter.Apply(o.opts, RoomAction{Disconnect: true, Close: closeConn})
}
