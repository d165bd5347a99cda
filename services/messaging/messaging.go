// Package messaging is the real-time core: it accepts messages, keeps active conversations in memory, writes
// them to Cassandra in batches (by count or age) without blocking the socket handlers, announces them once
// stored, and serves history and catch-up reads.
package messaging

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/coalesce"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/ratelimit"
	"github.com/parleychat/parley/internal/snowflake"
)

// MessageStore is the message log (Cassandra).
type MessageStore interface {
	// ts: the write timestamp in microseconds (several nodes, see ownership.go); 0 = Cassandra's choice.
	InsertBatch(ctx context.Context, msgs []model.Message, ts int64) error
	Nonces(ctx context.Context, channelID, since int64, limit int) ([]model.Message, error)
	Newest(ctx context.Context, channelID int64) (int64, error)
	Fence(ctx context.Context, channelID, afterID int64, until time.Time, ts int64) error
	Get(ctx context.Context, channelID, messageID int64) (model.Message, error)
	Edit(ctx context.Context, m model.Message, editedAt time.Time, ts int64) error // content and mentions
	Delete(ctx context.Context, channelID, messageID int64, ts int64) error
	Before(ctx context.Context, channelID, before int64, limit int) ([]model.Message, bool, error)
	After(ctx context.Context, channelID, after int64, limit int) ([]model.Message, bool, error)
}

// Access answers whether a user may read and write a channel, and with which role.
type Access interface {
	CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error)
	// ReadableChannelIDs lists every channel the user can read (one query: a sync of many channels).
	ReadableChannelIDs(ctx context.Context, userID int64) ([]int64, error)
}

// Publisher announces stored messages to connected clients.
type Publisher interface {
	MessageCreated(m model.Message)
	MessageUpdated(m model.Message)
	MessageDeleted(channelID, messageID int64)
}

// Observer hears about every stored message (read positions, typing indicators).
type Observer interface {
	MessageStored(m model.Message)
}

// Relay is an Observer for the listeners that also call messaging (readstate looks messages up and counts unread
// ones), so they cannot be built before it and handed to it by constructor. The relay is built first and given to
// messaging among its Observers; such a listener joins it in its own constructor, before anything is sent.
type Relay struct {
	mu        sync.RWMutex
	listeners []func(model.Message)
}

// Join adds a listener.
func (r *Relay) Join(fn func(model.Message)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, fn)
}

// MessageStored passes a stored message on to every listener, in the order they joined.
func (r *Relay) MessageStored(m model.Message) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, fn := range r.listeners {
		fn(m)
	}
}

// SearchIndex hears about every durable change to a message, in the order of its writes (message search). Its
// methods must not block: the index is written later, in the background.
type SearchIndex interface {
	MessageStored(m model.Message)
	MessageEdited(m model.Message)
	MessageDeleted(channelID, messageID int64)
}

// ActivityStore records coalesced channel activity (MongoDB channel metadata).
type ActivityStore interface {
	RecordActivity(ctx context.Context, acts []model.ChannelActivity) error
}

// IDs hands out time-ordered ids.
type IDs interface{ Next() int64 }

// Config tunes the in-memory conversations and their flushes.
type Config struct {
	FlushBatch       int           // flush when this many messages wait
	FlushDelay       time.Duration // ... or when the oldest waits this long
	QueueLimit       int           // messages waiting across all channels before sends are refused
	WindowSize       int           // newest stored messages kept per active channel
	IdleEvict        time.Duration // drop conversations idle this long
	FlushConcurrency int           // channels written at once
	RetryHorizon     time.Duration // a retried nonce is recognised this long after its message was stored...
	RetryMessages    int           // ...while the message is among its channel's newest RetryMessages
	SendRate         time.Duration // per-user send rate: one message per SendRate...
	SendBurst        int           // ...after a burst of SendBurst
	ActivityInterval time.Duration // how often coalesced channel activity is written to MongoDB

	// Several nodes (all nil on a single node): who orders each channel, how calls reach that node, and the
	// send rate limit shared by the nodes (SendRate and SendBurst apply to it too).
	Owners  Ownership
	Forward Forwarder
	Limiter SharedLimiter

	// Mentions resolves @name, #channel, @here and @everyone (nil: mentions stay plain text); Online serves @here.
	Mentions MentionDirectory
	Online   Online
	// Gate refuses sends that access alone allows (a 1:1 DM between users who blocked each other); nil: none.
	Gate SendGate
	// Pins keeps pinned message ids and PinNotify announces changes (nil: pins are not available).
	Pins      PinStore
	PinNotify PinPublisher
	// Search keeps the search index in step (nil: no search).
	Search SearchIndex
	// Metrics hears about every flush (nil: nothing is recorded).
	Metrics Metrics
	// Tracer records spans of sends, reads and flushes (nil: none).
	Tracer trace.Tracer
	// Observers hear about every stored message, in this order (attachments, read state through a Relay, typing).
	Observers []Observer
	// Files claims the uploads a message carries and deletes them with it (nil: messages carry no files).
	Files Files
	// Admission asks the key service to admit each encrypted message before it is stored (nil: no key service
	// is configured, and ciphertext is stored unasked).
	Admission Admission
}

// Admission is the key service's rotation policy (services/admission): it counts one encrypted message of a
// sender's session in a DM, or refuses it (rotation_overdue, stale_epoch, invalid_input, unavailable).
type Admission interface {
	Admit(ctx context.Context, userID, sessionID, channelID int64, ciphertext string) error
}

// Files are the uploads messages carry (services/attachments).
type Files interface {
	// Claim takes a sender's uploads to a channel for one send (all or none; a retry with the same nonce again).
	Claim(ctx context.Context, userID, channelID int64, nonce string, ids []int64) ([]model.Attachment, error)
	// Deleting marks a message's files just before the message is deleted (a crash after the delete leaves them
	// findable); MessageDeleted then deletes them.
	Deleting(ctx context.Context, m model.Message) error
	MessageDeleted(m model.Message)
}

// Metrics records flushes: messages written, time taken (retries included), and whether they were stored.
type Metrics interface {
	Flushed(messages int, d time.Duration, stored bool)
}

// SendGate decides whether a user who can read a channel may also send in it now.
type SendGate interface {
	CanSend(ctx context.Context, userID int64, ch model.Channel) error
}

// SharedLimiter is a rate limit kept for all nodes (Redis). On an error the node's own limiter decides.
type SharedLimiter interface {
	Allow(ctx context.Context, key string) (bool, time.Duration, error)
}

func (c *Config) defaults() {
	if c.FlushBatch <= 0 {
		c.FlushBatch = 64
	}
	if c.FlushDelay <= 0 {
		c.FlushDelay = 5 * time.Millisecond
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 10_000
	}
	if c.WindowSize <= 0 {
		c.WindowSize = 200
	}
	if c.IdleEvict <= 0 {
		c.IdleEvict = 10 * time.Minute
	}
	if c.FlushConcurrency <= 0 {
		// Each flush mostly waits for Cassandra's group commit, so many can be in flight at little cost.
		c.FlushConcurrency = 128
	}
	if c.RetryHorizon <= 0 {
		c.RetryHorizon = 10 * time.Minute
	}
	if c.RetryMessages <= 0 {
		c.RetryMessages = 20_000
	}
	if c.SendRate <= 0 {
		c.SendRate = 100 * time.Millisecond
	}
	if c.SendBurst <= 0 {
		c.SendBurst = 20
	}
	if c.ActivityInterval <= 0 {
		c.ActivityInterval = 5 * time.Second
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
}

// span starts a span of this service under ctx's ("messaging.<name>"; channelID 0: none).
func (s *Service) span(ctx context.Context, name string, channelID int64) (context.Context, trace.Span) {
	var opts []trace.SpanStartOption
	if channelID != 0 {
		opts = append(opts, trace.WithAttributes(attribute.Int64("parley.channel_id", channelID)))
	}
	return s.cfg.Tracer.Start(ctx, "messaging."+name, opts...)
}

// endSpan ends a span, marking it failed with err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, string(apperr.As(err).Kind))
	}
	span.End()
}

// Service implements messaging.
type Service struct {
	store   MessageStore
	access  Access
	pub     Publisher
	ids     IDs
	log     *slog.Logger
	cfg     Config
	now     func() time.Time
	limiter *ratelimit.Keyed
	shared  SharedLimiter

	mu    sync.Mutex
	convs map[int64]*conversation

	fwdMu      sync.Mutex
	forwarding map[forwardKey][]func(model.Message, error) // sends on their way to another node, with their waiters

	owners   Ownership
	forward  Forwarder
	clock    fencedClock
	mentions MentionDirectory
	online   Online
	pins     PinStore
	pinPub   PinPublisher

	queued  atomic.Int64 // accepted, not yet stored
	closed  atomic.Bool
	abandon chan struct{} // closed when shutdown gives up on unwritten messages
	sem     chan struct{} // bounds concurrent flushes
	flushes sync.WaitGroup

	observers []Observer

	acts *coalesce.Writer[int64, model.ChannelActivity] // per channel, not yet written to MongoDB (nil: no store)

	stop     chan struct{}
	bgDone   sync.WaitGroup
	stopOnce sync.Once
}

// New builds the service and starts its background work (eviction, metadata writes). Close stops it.
func New(store MessageStore, access Access, pub Publisher, activity ActivityStore, ids IDs, cfg Config, log *slog.Logger) *Service {
	cfg.defaults()
	s := &Service{
		store: store, access: access, pub: pub, ids: ids, log: log, cfg: cfg, now: time.Now,
		limiter: ratelimit.New(cfg.SendRate, cfg.SendBurst),
		convs:   map[int64]*conversation{}, forwarding: map[forwardKey][]func(model.Message, error){},
		abandon: make(chan struct{}), sem: make(chan struct{}, cfg.FlushConcurrency),
		stop:      make(chan struct{}),
		observers: cfg.Observers, owners: cfg.Owners, forward: cfg.Forward, shared: cfg.Limiter, mentions: cfg.Mentions, online: cfg.Online, pins: cfg.Pins, pinPub: cfg.PinNotify,
	}
	if activity != nil {
		s.acts = coalesce.New[int64](coalesce.Config[model.ChannelActivity]{Write: activity.RecordActivity, Merge: addActivity,
			OnFail: func(n int, err error) {
				log.Warn("channel metadata not updated; will retry", "channels", n, "err", err)
			}})
		s.acts.Start(cfg.ActivityInterval)
	}
	s.bgDone.Add(1)
	go s.background()
	return s
}

// Queued reports how many accepted messages are waiting for Cassandra.
func (s *Service) Queued() int { return int(s.queued.Load()) }

var errShuttingDown = &apperr.Error{Kind: apperr.Unavailable, Message: "the server is restarting; retry shortly"}

// conversation returns the active conversation of a channel, creating it. Callers hold s.mu.
func (s *Service) conversationLocked(channelID int64) *conversation {
	c, ok := s.convs[channelID]
	if !ok {
		c = &conversation{id: channelID}
		s.convs[channelID] = c
	}
	c.active = s.now()
	return c
}

// Draft is a message as its sender sends it.
type Draft struct {
	UserID, ChannelID int64
	SessionID         int64 // the sender's session: the key service admits an encrypted message as this session
	Content, Nonce    string
	ReplyTo           int64 // the message (same channel) it answers; 0 for none
	Encrypted         bool  // Content is an MLS ciphertext (base64): DMs only, no mention parsing
	// Attachments are ids of files the sender uploaded to the channel; with them the content may be empty.
	Attachments []int64
}

// Send accepts a message. Validation, permission, rate-limit and back-pressure errors are returned at once;
// otherwise done is called exactly once, from another goroutine, when the message is stored in Cassandra
// (or with the error that made storing it impossible). A nonce the sender already used in this channel within
// the retry horizon yields the message stored (or being stored) for it instead of a new one.
func (s *Service) Send(ctx context.Context, d Draft, done func(model.Message, error)) (err error) {
	ctx, span := s.span(ctx, "Send", d.ChannelID)
	defer func() { endSpan(span, err) }()
	userID, channelID, content, nonce := d.UserID, d.ChannelID, d.Content, d.Nonce
	if s.closed.Load() {
		return errShuttingDown
	}
	switch {
	case d.Encrypted:
		err = checkCiphertext(content)
	case len(d.Attachments) > 0 && strings.TrimSpace(content) == "":
		content = "" // files alone
	default:
		content, err = cleanContent(content)
	}
	if err != nil {
		return err
	}
	if len(d.Attachments) > 0 && s.cfg.Files == nil {
		return apperr.InvalidField("attachments", "this server does not accept files")
	}
	if err := checkNonce(nonce); err != nil {
		return err
	}
	if ok, wait := s.allow(ctx, userID); !ok {
		// A retry of a message this node already holds costs nothing new: answer it instead of refusing it
		// (clients retry while Cassandra or Postgres is slow; each retry must not eat the sender's budget).
		if s.answerKnown(channelID, nonceKey{userID, nonce}, done) {
			return nil
		}
		return apperr.RateLimit(wait)
	}
	ch, role, err := s.access.CanRead(ctx, userID, channelID)
	if err != nil {
		return err
	}
	if s.cfg.Gate != nil {
		if err := s.cfg.Gate.CanSend(ctx, userID, ch); err != nil {
			return err
		}
	}
	if err := checkEncryption(ch, d.Encrypted); err != nil {
		return err
	}
	draft := model.Message{ChannelID: channelID, SenderID: userID, Content: content, Nonce: nonce, ReplyTo: d.ReplyTo, Encrypted: d.Encrypted}
	if d.ReplyTo != 0 {
		if _, err := s.message(ctx, channelID, d.ReplyTo); apperr.Is(err, apperr.NotFound) {
			return apperr.InvalidField("replyTo", "the message you reply to is not in this channel (or was deleted)")
		} else if err != nil {
			return err
		}
	}
	if !draft.Encrypted {
		if err := s.resolveMentions(ctx, ch, role, &draft); err != nil {
			return err
		}
	}
	if draft.Encrypted && s.cfg.Admission != nil {
		// A retry of a message this node holds is answered without asking again (it was counted once). The
		// call holds up this socket's next events for one key-service round trip; that keeps one sender's
		// messages in order.
		if s.answerKnown(channelID, nonceKey{userID, nonce}, done) {
			return nil
		}
		if err := s.cfg.Admission.Admit(ctx, userID, d.SessionID, channelID, content); err != nil {
			return err
		}
	}
	if len(d.Attachments) > 0 {
		// Claimed before queueing: a file can be in one message only, and the row carries the metadata.
		if draft.Attachments, err = s.cfg.Files.Claim(ctx, userID, channelID, nonce, d.Attachments); err != nil {
			return err
		}
		// An encrypted message carries only files encrypted in the browser (uploaded with encrypted=1). A
		// refused claim stays with this nonce, which can never be stored, so the sweeper collects it.
		for _, a := range draft.Attachments {
			if draft.Encrypted != (a.ContentType == model.EncryptedFileType) {
				return apperr.InvalidField("attachments", "an end-to-end encrypted message carries only files encrypted on your device, and only such a message carries them")
			}
		}
	}
	return s.dispatch(draft, done)
}

// dispatch queues a checked message on the channel's owner: here, or forwarded to the node that owns it. A
// retry of a send this node is still forwarding waits for that forward's answer instead of making another.
func (s *Service) dispatch(draft model.Message, done func(model.Message, error)) error {
	if node, local := s.route(draft.ChannelID); !local {
		key := forwardKey{draft.ChannelID, nonceKey{draft.SenderID, draft.Nonce}}
		s.fwdMu.Lock()
		if waiters, ok := s.forwarding[key]; ok {
			s.forwarding[key] = append(waiters, done)
			s.fwdMu.Unlock()
			return nil
		}
		s.forwarding[key] = []func(model.Message, error){done}
		s.fwdMu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
			defer cancel()
			m, err := s.forward.Send(ctx, node, draft)
			s.fwdMu.Lock()
			waiters := s.forwarding[key]
			delete(s.forwarding, key)
			s.fwdMu.Unlock()
			for _, w := range waiters {
				w(m, err)
			}
		}()
		return nil
	}
	return s.accept(draft, done)
}

// forwardKey names a send being forwarded to its channel's owner.
type forwardKey struct {
	channelID int64
	nonceKey
}

// allow applies the per-user send rate: shared by all nodes when there are several, else this node's own.
func (s *Service) allow(ctx context.Context, userID int64) (bool, time.Duration) {
	if s.shared != nil {
		ok, wait, err := s.shared.Allow(ctx, "send:"+idKey(userID))
		if err == nil {
			return ok, wait
		}
		s.log.WarnContext(ctx, "shared rate limit unavailable; using this node's", "err", err)
	}
	return s.limiter.Allow(idKey(userID))
}

// Accept queues a message (channel, sender, content, nonce and resolved mentions) on this node, the channel's
// owner, for a sender whose node already checked the message, the rate, the access and the mentions (the
// internal API of several nodes). done as in Send.
func (s *Service) Accept(draft model.Message, done func(model.Message, error)) error {
	if s.closed.Load() {
		return errShuttingDown
	}
	if err := checkNonce(draft.Nonce); err != nil {
		return err
	}
	// The gateway checked the text; rewritten mentions (<@id>) make it at most about five times longer. System
	// messages (a pin) have no text.
	empty := draft.Content == "" && len(draft.Attachments) == 0
	if empty != (draft.Kind != "") || len(draft.Content) > 5*4*MaxContentRunes || len(draft.Mentions) > maxMentions ||
		(draft.Kind != "" && draft.Kind != model.KindPin && draft.Kind != model.KindEncryption) || (draft.Encrypted && (draft.Kind != "" || len(draft.Attachments) > 0 || checkCiphertext(draft.Content) != nil)) ||
		len(draft.Attachments) > maxAttachments {
		return apperr.InvalidField("content", "message is empty or too long")
	}
	return s.accept(model.Message{ChannelID: draft.ChannelID, SenderID: draft.SenderID, Content: draft.Content, Nonce: draft.Nonce,
		Mentions: draft.Mentions, MentionEveryone: draft.MentionEveryone, ReplyTo: draft.ReplyTo, Kind: draft.Kind, Encrypted: draft.Encrypted,
		Attachments: draft.Attachments}, done)
}

// maxAttachments bounds the files of a message a gateway node forwards (its own check is the configured one).
const maxAttachments = 100

func (s *Service) accept(draft model.Message, done func(model.Message, error)) error {
	userID, channelID := draft.SenderID, draft.ChannelID
	key := nonceKey{userID, draft.Nonce}
	s.mu.Lock()
	defer s.mu.Unlock()
	conv := s.conversationLocked(channelID)
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if s.answerRetryLocked(conv, key, done) {
		return nil
	}
	// Send checked the DM's flag before this, from a cache and outside any lock, so a plaintext send checked a
	// moment before encryption was turned on could be queued after the line that says so, and be stored in
	// clear after it. Ids follow the queue's order: refusing here keeps everything after the line sealed.
	switch {
	case draft.Kind == model.KindEncryption:
		conv.sealed = true
	case conv.sealed && draft.Kind == "" && !draft.Encrypted:
		return errEncryptionRequired
	}
	if s.queued.Load() >= int64(s.cfg.QueueLimit) {
		return &apperr.Error{Kind: apperr.Unavailable, Message: "messages cannot be stored right now; retry shortly"}
	}
	// The id is given when the flush takes the message (in queue order, above every id the channel has), so
	// a new owner can set its floor before any id is chosen.
	e := &entry{msg: draft, checked: conv.horizon, waiters: []func(model.Message, error){done}}
	conv.pending = append(conv.pending, e)
	if conv.waiting == nil {
		conv.waiting = map[nonceKey]*entry{}
	}
	conv.waiting[key] = e
	s.queued.Add(1)
	if len(conv.pending) >= s.cfg.FlushBatch {
		go s.flush(conv)
	} else if conv.timer == nil && !conv.flushing {
		conv.timer = time.AfterFunc(s.cfg.FlushDelay, func() { s.flush(conv) })
	}
	return nil
}

// answerKnown answers a send whose nonce the channel's conversation on this node knows (being stored, or
// stored within the retry horizon); it reports false when the nonce is new here.
func (s *Service) answerKnown(channelID int64, key nonceKey, done func(model.Message, error)) bool {
	s.fwdMu.Lock()
	if waiters, ok := s.forwarding[forwardKey{channelID, key}]; ok {
		s.forwarding[forwardKey{channelID, key}] = append(waiters, done)
		s.fwdMu.Unlock()
		return true
	}
	s.fwdMu.Unlock()
	s.mu.Lock()
	conv := s.convs[channelID]
	s.mu.Unlock()
	if conv == nil {
		return false
	}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	return !conv.lost && s.answerRetryLocked(conv, key, done)
}

// answerRetryLocked answers a send whose nonce the conversation knows: it waits with the first attempt while
// that is being stored, or gets the stored message. It reports false for a new nonce. Callers hold conv.mu.
func (s *Service) answerRetryLocked(conv *conversation, key nonceKey, done func(model.Message, error)) bool {
	if e, ok := conv.waiting[key]; ok {
		e.waiters = append(e.waiters, done)
		return true
	}
	if id, ok := conv.stored[key]; ok {
		s.answerStoredLocked(conv, id, done)
		return true
	}
	return false
}

// answerStoredLocked answers a retry with the message stored for it: from the window, or read from Cassandra
// (deleted messages included: the retry must not bring a deleted message back). Callers hold conv.mu.
func (s *Service) answerStoredLocked(conv *conversation, id int64, done func(model.Message, error)) {
	if i := conv.windowIndex(id); i >= 0 {
		m := conv.window[i]
		go done(m, nil)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := s.store.Get(ctx, conv.id, id)
		if err != nil {
			done(m, unavailable(err))
			return
		}
		done(m, nil)
	}()
}

// flush starts writing a channel's queued messages unless a write is already running (its completion
// starts the next one).
func (s *Service) flush(conv *conversation) {
	conv.mu.Lock()
	if conv.timer != nil {
		conv.timer.Stop()
		conv.timer = nil
	}
	if conv.flushing || len(conv.pending) == 0 {
		conv.mu.Unlock()
		return
	}
	n := min(len(conv.pending), 4*s.cfg.FlushBatch)
	batch := append([]*entry(nil), conv.pending[:n]...)
	conv.flushing = true
	// Counted under the channel's lock: Close flushes every channel (taking this lock) before it waits, so a
	// flush a timer started concurrently is either counted by then or sees flushing=true and stays out.
	s.flushes.Add(1)
	conv.mu.Unlock()
	go s.write(conv, batch)
}

// write stores a batch, retrying with backoff while Cassandra is unavailable, then publishes it in order.
// The first flush of a channel loads its retry horizon first, so that a retry of a message stored before a
// restart is recognised; after that, deduplication is a map lookup and each message costs one write.
func (s *Service) write(conv *conversation, batch []*entry) {
	defer s.flushes.Done()
	s.sem <- struct{}{}
	started := time.Now()
	// A flush is its own trace (it serves many senders): the span holds the Cassandra writes as children.
	fctx, span := s.cfg.Tracer.Start(context.Background(), "messaging.flush", trace.WithAttributes(
		attribute.Int64("parley.channel_id", conv.id), attribute.Int("parley.messages", len(batch))))
	dupes, writeErr := s.storeBatch(fctx, conv, batch)
	<-s.sem
	endSpan(span, writeErr)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Flushed(len(batch), time.Since(started), writeErr == nil)
	}

	// A retry of a message stored before this process knew the channel gets that message as its answer.
	dupMsgs := map[int64]model.Message{}
	var dupErr error
	if writeErr == nil {
		for _, id := range dupes {
			if _, ok := dupMsgs[id]; !ok && dupErr == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				m, err := s.store.Get(ctx, conv.id, id)
				cancel()
				if err != nil {
					dupErr = unavailable(err)
				}
				dupMsgs[id] = m
			}
		}
	}

	// Settle the entries and update the window while this flush still holds the channel (flushing=true),
	// so the next flush cannot publish ahead of this one.
	since := s.horizonStart()
	conv.mu.Lock()
	conv.pending = conv.pending[len(batch):]
	var waiters []func()
	var stored []model.Message
	for _, e := range batch {
		key := nonceKey{e.msg.SenderID, e.msg.Nonce}
		delete(conv.waiting, key)
		var result model.Message
		var err error
		switch id, dup := dupes[e]; {
		case errors.Is(writeErr, errMoved):
			err = errMoved // nothing remembered here; the conversation is dropped, the retry goes to the owner
		case writeErr != nil:
			err = errShuttingDown // nothing remembered: a later retry with the same nonce is accepted again
		case dup:
			result, err = dupMsgs[id], dupErr
		default:
			result = e.msg
			stored = append(stored, e.msg)
			conv.remember(key, e.msg.ID, since, s.cfg.RetryMessages)
		}
		for _, w := range e.waiters {
			w := w
			waiters = append(waiters, func() { w(result, err) })
		}
		e.waiters = nil
	}
	if writeErr == nil && len(stored) > 0 {
		conv.appendStored(stored, s.cfg.WindowSize)
		conv.stores++
	}
	conv.mu.Unlock()
	if errors.Is(writeErr, errMoved) {
		s.drop(conv)
	}
	s.queued.Add(-int64(len(batch)))

	for _, m := range stored {
		s.pub.MessageCreated(m)
		for _, o := range s.observers {
			o.MessageStored(m)
		}
		if s.cfg.Search != nil {
			s.cfg.Search.MessageStored(m)
		}
	}
	s.noteActivity(stored)
	for _, w := range waiters {
		w()
	}

	conv.mu.Lock()
	conv.flushing = false
	more := len(conv.pending) > 0
	full := len(conv.pending) >= s.cfg.FlushBatch
	if more && !full && conv.timer == nil {
		conv.timer = time.AfterFunc(s.cfg.FlushDelay, func() { s.flush(conv) })
	}
	conv.mu.Unlock()
	if full || (more && s.closed.Load()) {
		s.flush(conv)
	}
}

// storeBatch writes a batch to Cassandra, retrying with backoff while it is unavailable, until it is stored,
// the channel has moved to another node (errMoved) or shutdown abandons it (the last error). dupes maps the
// entries that are retries of messages already stored to those messages' ids; they are not written again.
func (s *Service) storeBatch(ctx context.Context, conv *conversation, batch []*entry) (dupes map[*entry]int64, err error) {
	var msgs []model.Message
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = s.prepare(conv)
		if err == nil {
			if dupes == nil {
				s.assignIDs(conv, batch)
				dupes = s.findDuplicates(conv, batch)
				for _, e := range batch {
					if _, dup := dupes[e]; !dup {
						msgs = append(msgs, e.msg)
					}
				}
			}
			var ts int64
			if ts, err = s.stamp(conv); err == nil && len(msgs) > 0 {
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = s.store.InsertBatch(wctx, msgs, ts)
				cancel()
			}
		}
		if err == nil {
			// Several nodes: announce only while the lease is still ours. If it lapsed during the write, the rows
			// may be hidden by a new owner's fence; the senders retry there and get the right answer either way.
			err = s.stillOwner(conv)
		}
		if err == nil || errors.Is(err, errMoved) {
			return dupes, err
		}
		if attempt == 1 || attempt%20 == 0 {
			s.log.WarnContext(ctx, "storing messages failed; retrying", "channel", conv.id, "messages", len(batch), "attempt", attempt, "err", err)
		}
		select {
		case <-s.abandon:
			return dupes, err
		case <-time.After(backoff):
			backoff = min(backoff*2, 2*time.Second)
		}
	}
}

// horizonStart is the oldest message id still inside the retry horizon.
func (s *Service) horizonStart() int64 {
	return snowflake.FirstIDAt(s.now().Add(-s.cfg.RetryHorizon))
}

// loadHorizon reads, once per activation of a channel, the nonces Cassandra stored for it within the retry
// horizon (the newest RetryMessages of the last RetryHorizon): one range read of the channel's newest
// partition, instead of a nonce lookup per message.
// It also sets the conversation's id floor to the newest id it read.
func (s *Service) loadHorizon(ctx context.Context, conv *conversation) error {
	conv.mu.Lock()
	loaded := conv.horizon
	conv.mu.Unlock()
	if loaded {
		return nil
	}
	since := s.horizonStart()
	recent, err := s.store.Nonces(ctx, conv.id, since, s.cfg.RetryMessages)
	if err != nil {
		return err
	}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	for i := len(recent) - 1; i >= 0; i-- { // oldest first, the order remember keeps
		m := recent[i]
		conv.remember(nonceKey{m.SenderID, m.Nonce}, m.ID, since, s.cfg.RetryMessages)
		conv.lastID = max(conv.lastID, m.ID)
	}
	conv.horizon = true
	return nil
}

// assignIDs gives the batch's messages their ids, in queue order and above every id the channel has.
func (s *Service) assignIDs(conv *conversation, batch []*entry) {
	conv.mu.Lock()
	defer conv.mu.Unlock()
	for _, e := range batch {
		if e.msg.ID != 0 {
			continue
		}
		id := s.ids.Next()
		if id <= conv.lastID { // another node's clock ran ahead of ours
			id = conv.lastID + 1
		}
		conv.lastID = id
		e.msg.ID, e.msg.CreatedAt = id, timeOf(id)
	}
}

// findDuplicates returns the entries of a batch whose nonce was stored before the channel's horizon was
// loaded (the entries accepted after it were checked on arrival), with the stored message's id.
func (s *Service) findDuplicates(conv *conversation, batch []*entry) map[*entry]int64 {
	out := map[*entry]int64{}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	for _, e := range batch {
		if e.checked {
			continue
		}
		if id, ok := conv.stored[nonceKey{e.msg.SenderID, e.msg.Nonce}]; ok {
			out[e] = id
		}
		e.checked = true
	}
	return out
}

// noteActivity counts stored messages into the channel metadata written to MongoDB: one update per channel
// per interval, however many messages arrived.
func (s *Service) noteActivity(stored []model.Message) {
	if s.acts == nil {
		return
	}
	for _, m := range stored {
		s.acts.Add(m.ChannelID, model.ChannelActivity{ChannelID: m.ChannelID, Count: 1, LastMessageID: m.ID, LastMessageAt: m.CreatedAt})
	}
}

// addActivity merges two activity records of a channel: counts add up, the last message is the newest.
func addActivity(a, b model.ChannelActivity) model.ChannelActivity {
	a.Count += b.Count
	if b.LastMessageID > a.LastMessageID {
		a.LastMessageID, a.LastMessageAt = b.LastMessageID, b.LastMessageAt
	}
	return a
}

func (s *Service) background() {
	defer s.bgDone.Done()
	sweep := time.NewTicker(30 * time.Second)
	defer sweep.Stop()
	rebalance := time.NewTicker(time.Second)
	defer rebalance.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-rebalance.C:
			s.rebalance()
		case <-sweep.C:
			s.sweep()
		}
	}
}

// sweep evicts idle conversations and forgets nonces that have left the retry horizon.
func (s *Service) sweep() {
	now := s.now()
	since := s.horizonStart()
	var evicted []*conversation
	s.mu.Lock()
	for id, c := range s.convs {
		c.mu.Lock()
		idle := now.Sub(c.active) > s.cfg.IdleEvict && len(c.pending) == 0 && !c.flushing
		c.expire(since, s.cfg.RetryMessages)
		if idle {
			c.lost = true // a write racing the eviction fails over instead of using a released lease
		}
		c.mu.Unlock()
		if idle {
			delete(s.convs, id)
			evicted = append(evicted, c)
		}
	}
	s.mu.Unlock()
	s.release(evicted)
}

// Close stops accepting messages and writes every queued one to Cassandra. If ctx ends first, the writes
// still outstanding are abandoned: their senders get `unavailable` (never a false success).
func (s *Service) Close(ctx context.Context) error {
	s.closed.Store(true)
	s.mu.Lock()
	convs := make([]*conversation, 0, len(s.convs))
	for _, c := range s.convs {
		convs = append(convs, c)
	}
	s.mu.Unlock()
	for _, c := range convs {
		s.flush(c)
	}
	done := make(chan struct{})
	go func() { s.flushes.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.New("messaging: shutdown deadline passed with messages unwritten")
		close(s.abandon)
		<-done
	}
	s.stopOnce.Do(func() { close(s.stop) })
	s.bgDone.Wait()
	if s.acts != nil {
		_ = s.acts.Close(context.Background())
	}
	if err == nil { // every message is stored: the next owners need no takeover
		s.mu.Lock()
		convs = convs[:0]
		for _, c := range s.convs {
			convs = append(convs, c)
		}
		s.mu.Unlock()
		s.release(convs)
	}
	return err
}
