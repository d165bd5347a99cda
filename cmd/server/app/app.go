// Package app is the composition root: it assembles the server from its parts with explicit constructors, in
// dependency order: stores → the socket hub (outbound) → services → controllers (the socket handlers on the hub,
// then HTTP). Nothing is handed to a part after it was built. cmd/server runs it; integration tests build the
// same thing in-process (cmd/server/testserver). It lives under cmd/ because it imports every layer: internal/
// is the foundation the layers stand on (layers_test.go keeps the imports pointing down).
package app

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"

	goredis "github.com/redis/go-redis/v9"

	"github.com/parleychat/parley/controllers/clusterapi"
	"github.com/parleychat/parley/controllers/httpapi"
	"github.com/parleychat/parley/controllers/socketapi"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/httpserver"
	"github.com/parleychat/parley/internal/mail"
	"github.com/parleychat/parley/internal/metrics"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/poster"
	"github.com/parleychat/parley/internal/reqid"
	"github.com/parleychat/parley/internal/snowflake"
	"github.com/parleychat/parley/internal/socketio"
	"github.com/parleychat/parley/internal/tracing"
	"github.com/parleychat/parley/repositories/cassandra"
	"github.com/parleychat/parley/repositories/keysclient"
	"github.com/parleychat/parley/repositories/mongo"
	"github.com/parleychat/parley/repositories/objectstore/fs"
	"github.com/parleychat/parley/repositories/objectstore/s3"
	"github.com/parleychat/parley/repositories/opensearch"
	"github.com/parleychat/parley/repositories/postgres"
	redisstore "github.com/parleychat/parley/repositories/redis"
	"github.com/parleychat/parley/services/admission"
	"github.com/parleychat/parley/services/attachments"
	"github.com/parleychat/parley/services/auth"
	"github.com/parleychat/parley/services/cluster"
	"github.com/parleychat/parley/services/community"
	"github.com/parleychat/parley/services/dmencryption"
	"github.com/parleychat/parley/services/messaging"
	"github.com/parleychat/parley/services/presence"
	"github.com/parleychat/parley/services/reactions"
	"github.com/parleychat/parley/services/readstate"
	"github.com/parleychat/parley/services/search"
	"github.com/parleychat/parley/services/settings"
	"github.com/parleychat/parley/services/typing"
)

// App is a fully wired server.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	pg      *pgxpool.Pool
	mongo   *mongodrv.Client
	cass    *gocql.Session
	sockets *socketapi.Hub
	handler http.Handler
	router  *gin.Engine
	metrics *metrics.Metrics
	tracing *tracing.Tracing

	// Several nodes only (nil on one).
	redis    *goredis.Client
	node     *cluster.Node
	forward  *clusterapi.Client
	internal http.Handler

	Auth      *auth.Service
	Community *community.Service
	Messaging *messaging.Service
	Presence  *presence.Service
	ReadState *readstate.Service
	Reactions *reactions.Service
	Search    *search.Service // nil when search is off
	Files     *attachments.Service
}

// Telemetry is the process's metrics registry and tracer provider. It is built before the databases are opened,
// so every database call is measured (and traced, when tracing is on).
type Telemetry struct {
	Metrics *metrics.Metrics
	Tracing *tracing.Tracing
}

// NewTelemetry builds the metrics registry and, with PARLEY_OTLP_ENDPOINT, the OTLP trace exporter.
func NewTelemetry(cfg config.Config) (Telemetry, error) {
	tr, err := tracing.New(tracing.Config{Endpoint: cfg.OTLPEndpoint, SampleRatio: cfg.TraceSample, NodeID: cfg.NodeID})
	if err != nil {
		return Telemetry{}, err
	}
	return Telemetry{Metrics: metrics.New(cfg.NodeID), Tracing: tr}, nil
}

func (t Telemetry) withDefaults(cfg config.Config) Telemetry {
	if t.Metrics == nil {
		t.Metrics = metrics.New(cfg.NodeID)
	}
	if t.Tracing == nil {
		t.Tracing = tracing.Off()
	}
	return t
}

// DBCall reports a database call to the metrics and the tracer (the repositories' Observer).
func (t Telemetry) DBCall(ctx context.Context, store, op string, start, end time.Time, err error) {
	t.Metrics.DBCall(ctx, store, op, start, end, err)
	t.Tracing.DBCall(ctx, store, op, start, end, err)
}

// Connect opens the three databases and applies migrations. Each step is logged with its duration. Every
// later database call is reported to tel (latency and errors per store, spans when tracing).
func Connect(ctx context.Context, cfg config.Config, log *slog.Logger, tel Telemetry) (*pgxpool.Pool, *mongodrv.Client, *gocql.Session, error) {
	tel = tel.withDefaults(cfg)
	start := time.Now()
	v, err := postgres.Migrate(cfg.PostgresURL)
	if err != nil {
		return nil, nil, nil, err
	}
	pg, err := postgres.OpenObserved(ctx, cfg.PostgresURL, tel)
	if err != nil {
		return nil, nil, nil, err
	}
	log.Info("postgres ready", "schema_version", v, "ms", time.Since(start).Milliseconds())

	start = time.Now()
	mc, err := mongo.ConnectObserved(ctx, cfg.MongoURI, tel)
	if err != nil {
		pg.Close()
		return nil, nil, nil, err
	}
	if v, err = mongo.Migrate(ctx, mc.Database(cfg.MongoDB)); err != nil {
		pg.Close()
		_ = mc.Disconnect(ctx)
		return nil, nil, nil, err
	}
	log.Info("mongo ready", "schema_version", v, "ms", time.Since(start).Milliseconds())

	start = time.Now()
	cs, err := cassandra.Connect(ctx, cassandra.Config{Hosts: cfg.Cassandra.Hosts, Keyspace: cfg.Cassandra.Keyspace,
		Replication: cfg.Cassandra.Replication, Consistency: cfg.Cassandra.Consistency, Calls: tel})
	if err == nil {
		v, err = cassandra.Migrate(ctx, cs)
		if err != nil {
			cs.Close()
		}
	}
	if err != nil {
		pg.Close()
		_ = mc.Disconnect(ctx)
		return nil, nil, nil, err
	}
	log.Info("cassandra ready", "schema_version", v, "ms", time.Since(start).Milliseconds())
	return pg, mc, cs, nil
}

// New wires the server on open database handles. The App owns them from here on (Close closes them). tel is the
// telemetry Connect reported database calls to (zero fields: a new registry, tracing off).
func New(cfg config.Config, log *slog.Logger, tel Telemetry, pg *pgxpool.Pool, mc *mongodrv.Client, cs *gocql.Session) (*App, error) {
	// Log lines written with a request's or event's context carry its request id.
	log = slog.New(reqid.LogHandler(log.Handler()))
	tel = tel.withDefaults(cfg)
	m, tracer := tel.Metrics, tel.Tracing.Tracer()
	ids, err := snowflake.New(cfg.NodeID)
	if err != nil {
		return nil, err
	}

	// Stores.
	users := postgres.NewUserStore(pg)
	sessions := postgres.NewSessionStore(pg)
	communityStore := postgres.NewCommunityStore(pg)
	mdb := mc.Database(cfg.MongoDB)
	channelMeta := mongo.NewChannelMetaStore(mdb)

	// Several nodes: membership and leases in Redis, the bus between nodes, the internal API client.
	var (
		rc          *goredis.Client
		node        *cluster.Node
		forward     *clusterapi.Client
		socketBus   *cluster.Topic
		accessPeers community.Peers
		readPeers   readstate.Peers
		owners      messaging.Ownership
		forwarder   messaging.Forwarder
		limiter     messaging.SharedLimiter
		revocations []auth.RevocationListener
	)
	if cfg.Cluster.Addr != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rc, err = redisstore.Connect(ctx, cfg.RedisURL)
		cancel()
		if err != nil {
			return nil, err
		}
		redisstore.Instrument(rc, tel)
		prefix := cfg.Cluster.RedisPrefix
		node = cluster.New(cluster.Config{NodeID: cfg.NodeID, Advertise: cfg.Cluster.Advertise, LeaseTTL: cfg.Cluster.LeaseTTL},
			redisstore.NewNodes(rc, prefix), redisstore.NewLeases(rc, prefix), redisstore.NewBus(rc, prefix), log.With("component", "cluster"))
		forward = clusterapi.NewClient(node, cfg.Cluster.Secret)
		socketBus = node.Topic(topicSockets)
		p := peers{access: node.Topic(topicAccess), reads: node.Topic(topicReadPos)}
		accessPeers, readPeers, owners, forwarder = p, p, node, forward
		limiter = redisstore.NewRateLimiter(rc, prefix, time.Second/time.Duration(cfg.Messaging.SendRate), cfg.Messaging.SendBurst)
		// First: the other nodes forget the session before their sockets of it are closed (same ordered bus), so
		// a handshake racing the revocation there re-checks Postgres.
		revocations = append(revocations, sessionPeers{node.Topic(topicSessions)})
	}

	// The socket hub (outbound: rooms and the Publisher) needs no service, so it is built first and handed to the
	// services; the inbound handlers are attached to it last, with the services they call.
	socketCfg := socketapi.Config{AllowedOrigins: cfg.AllowedOrigins, MaxSocketsPerUser: cfg.Sockets.MaxPerUser, WriteQueueLimit: cfg.Sockets.QueueLimit,
		Metrics: m, Tracer: tracer}
	if socketBus != nil {
		socketCfg.Bus = socketBus
	}
	hub := socketapi.NewHub(socketCfg, log.With("component", "socket"))
	pub := hub.Publisher()

	// Services, each after what it calls.
	tokens := auth.NewTokenIssuer(cfg.Auth.JWTSecret, cfg.Auth.Issuer, cfg.Auth.Audience, cfg.Auth.AccessTTL)
	verification, err := newVerification(cfg, users)
	if err != nil {
		return nil, err
	}
	authSvc, err := auth.New(users, sessions, tokens, ids, auth.Config{
		BcryptCost: cfg.Auth.BcryptCost, RefreshTTL: cfg.Auth.RefreshTTL,
		RegisterBurst: cfg.Auth.RegisterBurst, LoginIPBurst: cfg.Auth.LoginIPBurst,
		Verification: verification, Revocations: append(revocations, hub),
	}, log.With("component", "auth"))
	if err != nil {
		return nil, err
	}
	communitySvc := community.New(communityStore, channelMeta, users, pub, ids, accessPeers, community.Limits{
		ServersPerUser: cfg.Limits.ServersPerUser, ChannelsPerServer: cfg.Limits.ChannelsPerServer, InvitesPerServer: cfg.Limits.InvitesPerServer,
		InviteEvery: cfg.Limits.InviteEvery, InviteBurst: cfg.Limits.InviteBurst, DMEvery: cfg.Limits.DMEvery, DMBurst: cfg.Limits.DMBurst,
		GroupDMSize: cfg.Limits.GroupDMSize,
	}, log.With("component", "community"))
	access := communitySvc.Access // the access checks: what most services need of community
	// Search: the index is written in the background after each durable change; chat never waits for it.
	var searchSvc *search.Service
	var searchIndex messaging.SearchIndex
	var searcher httpapi.Searcher
	if len(cfg.Search.URLs) > 0 {
		idx, err := opensearch.New(opensearch.Config{URLs: cfg.Search.URLs, Index: cfg.Search.Index, Shards: cfg.Search.Shards, Calls: tel})
		if err != nil {
			return nil, err
		}
		searchSvc = search.New(idx, cassandra.NewMessageStore(cs), communitySvc, authSvc, postgres.NewCommunityStore(pg),
			mongo.NewSearchCheckpointStore(mdb), search.Config{Node: strconv.FormatInt(cfg.NodeID, 10)}, log.With("component", "search"))
		searchIndex, searcher = searchSvc, searchSvc
	}
	presenceSvc := presence.New(mongo.NewPresenceStore(mdb), communitySvc, pub, presence.Config{NodeID: cfg.NodeID, Grace: cfg.PresenceGrace, Swept: m.Swept}, log.With("component", "presence"))
	objects, objectsPing, err := openObjects(cfg.Storage, tel)
	if err != nil {
		return nil, err
	}
	var posters attachments.Posters
	if ff, err := poster.Find(poster.Config{Binary: cfg.Uploads.FFmpeg, Jobs: cfg.Uploads.FFmpegJobs}); err == nil {
		posters = ff
		log.Info("video poster frames by ffmpeg", "ffmpeg", ff.Binary())
	} else if errors.Is(err, poster.ErrUnavailable) {
		log.Info("no ffmpeg: videos get the player's generic poster")
	} else {
		return nil, err
	}
	filesSvc := attachments.New(postgres.NewAttachmentStore(pg), objects, access, ids, attachments.Config{
		MaxSize: cfg.Uploads.MaxSize, Types: cfg.Uploads.Types, MaxPixels: cfg.Uploads.MaxPixels, UploadEvery: cfg.Uploads.Every,
		UploadBurst: cfg.Uploads.Burst, UnsentTTL: cfg.Uploads.UnsentTTL, TempDir: cfg.Uploads.TempDir,
		Sent: cassandra.NewMessageStore(cs), Posters: posters,
	}, log.With("component", "attachments"))
	filesSvc.Start(10 * time.Minute)
	typingSvc := typing.New(writers{access}, pub, typing.DefaultThrottle, typing.DefaultExpiry)
	// Encrypted DM messages are admitted by the key service's rotation policy before they are stored.
	var admit messaging.Admission
	if cfg.KeysURL != nil {
		admit = admission.New(keysclient.New(cfg.KeysURL, keysCallTimeout),
			auth.NewTokenIssuer(cfg.Auth.JWTSecret, cfg.Auth.Issuer, cfg.Auth.Audience, admission.TokenTTL), log.With("component", "admission"))
	}
	// Read state both hears about stored messages and calls messaging: it joins this relay when built.
	readRelay := &messaging.Relay{}
	messagingSvc := messaging.New(cassandra.NewMessageStore(cs), access, pub, channelMeta, ids, messaging.Config{
		FlushBatch:       cfg.Messaging.FlushBatch,
		FlushDelay:       cfg.Messaging.FlushDelay,
		QueueLimit:       cfg.Messaging.QueueLimit,
		WindowSize:       cfg.Messaging.WindowSize,
		IdleEvict:        cfg.Messaging.IdleEvict,
		RetryHorizon:     cfg.Messaging.RetryHorizon,
		RetryMessages:    cfg.Messaging.RetryMessages,
		ActivityInterval: cfg.Messaging.StateWrites,
		SendRate:         time.Second / time.Duration(cfg.Messaging.SendRate),
		SendBurst:        cfg.Messaging.SendBurst,
		Owners:           owners,
		Forward:          forwarder,
		Limiter:          limiter,
		Mentions:         communitySvc,
		Gate:             access,
		Online:           presenceSvc,
		Pins:             channelMeta,
		PinNotify:        pub,
		Files:            filesSvc,
		Observers:        []messaging.Observer{filesSvc, readRelay, typingSvc},
		Search:           searchIndex,
		Metrics:          m,
		Tracer:           tracer,
		Admission:        admit,
	}, log.With("component", "messaging"))
	readSvc := readstate.New(mongo.NewReadStateStore(mdb), access, messagingSvc, pub, readPeers, readRelay, cfg.Messaging.StateWrites, log.With("component", "readstate"))
	reactSvc := reactions.New(mongo.NewReactionStore(mdb), access, messagingSvc, pub,
		reactions.Config{WriteInterval: cfg.Messaging.StateWrites, Gate: access}, log.With("component", "reactions"))

	// Controllers, last: the socket events (on the hub), then HTTP.
	socketapi.New(hub, socketapi.Services{Auth: authSvc, Rooms: access, Messages: messagingSvc, Presence: presenceSvc,
		Typing: typingSvc, Receipts: readSvc, Reactions: reactSvc}, log.With("component", "socket"))

	m.Gauge("parley_message_queue_depth", "Accepted messages waiting for Cassandra on this node (sends are refused at PARLEY_QUEUE_LIMIT).",
		func() float64 { return float64(messagingSvc.Queued()) })
	m.GaugeByLabel("parley_sockets", "Open Engine.IO sessions on this node by transport.", "transport",
		[]string{"websocket", "polling"}, hub.SocketsByTransport)

	health := []httpapi.HealthCheck{
		{Name: "postgres", Check: func(ctx context.Context) error { return pg.Ping(ctx) }},
		{Name: "mongodb", Check: func(ctx context.Context) error { return mongo.Ping(ctx, mc) }},
		{Name: "cassandra", Check: func(ctx context.Context) error { return cassandra.Ping(ctx, cs) }},
		{Name: "storage", Check: objectsPing},
	}
	var internal http.Handler
	if node != nil {
		node.Handle(topicSockets, hub.Receive)
		node.Handle(topicAccess, func([]byte) { access.ForgetAccess() })
		node.Handle(topicSessions, func(b []byte) {
			if len(b) == 8 {
				authSvc.Forget(int64(binary.BigEndian.Uint64(b)))
			}
		})
		node.Handle(topicReadPos, func(b []byte) {
			if st, ok := decodeReadState(b); ok {
				readSvc.Learn(st)
			}
		})
		node.OnLeaseLost(messagingSvc.LeaseLost)
		node.OnNodeLeft(func(id int64) { go presenceSvc.NodeGone(id) })
		internal = clusterapi.Handler(messagingSvc, cfg.Cluster.Secret, log.With("component", "clusterapi"))
		health = append(health, httpapi.HealthCheck{Name: "redis", Check: func(ctx context.Context) error { return redisstore.Ping(ctx, rc) }})
	}
	encryptionSvc := dmencryption.New(postgres.NewEncryptionStore(pg), access, accessForget{access, accessPeers},
		pub, messagingSvc, log.With("component", "dmencryption"))
	authHandlers := httpapi.NewAuthHandlers(authSvc, httpapi.AuthConfig{SecureCookies: cfg.HTTP.SecureOrigin}, log.With("component", "http"))
	router := httpapi.NewRouter(httpapi.RouterConfig{
		Log:            log.With("component", "http"),
		Health:         health,
		StaticDir:      cfg.StaticDir,
		TrustedProxies: cfg.TrustedProxies,
		UserRate:       time.Second / time.Duration(cfg.API.Rate),
		UserBurst:      cfg.API.Burst,
		HSTSMaxAge:     cfg.HTTP.HSTSMaxAge,
		Metrics:        m,
		Tracer:         tracer,
		Auth:           authHandlers,
		Extra: []func(*gin.Engine, *gin.RouterGroup, *gin.RouterGroup){
			httpapi.NewCommunityHandlers(communitySvc, readSvc, log.With("component", "http")).Routes,
			httpapi.NewSafetyHandlers(communitySvc, log.With("component", "http")).Routes,
			httpapi.NewMessageHandlers(messagingSvc, readSvc, log.With("component", "http")).WithReactions(reactSvc).Routes,
			httpapi.NewReactionHandlers(reactSvc, authSvc, log.With("component", "http")).Routes,
			httpapi.NewAttachmentHandlers(filesSvc, authHandlers, cfg.HTTP.SecureOrigin, log.With("component", "http")).Routes,
			httpapi.NewAvatarHandlers(filesSvc, authSvc, communitySvc, log.With("component", "http")).Routes,
			httpapi.NewRealtimeHandlers(presenceSvc, readSvc, log.With("component", "http")).Routes,
			httpapi.NewSearchHandlers(searcher, log.With("component", "http")).WithContext(messagingSvc).Routes,
			httpapi.NewSettingsHandlers(settings.New(mongo.NewSettingsStore(mdb), pub), log.With("component", "http")).Routes,
			httpapi.NewKeysProxy(cfg.KeysURL, log.With("component", "keysproxy")).Routes,
			httpapi.NewEncryptionHandlers(encryptionSvc, log.With("component", "http")).Routes,
			func(e *gin.Engine, _, _ *gin.RouterGroup) {
				h := gin.WrapH(hub.Handler())
				e.GET("/socket.io/*any", h)
				e.POST("/socket.io/*any", h)
				if cfg.MetricsAddr == "" {
					e.GET("/metrics", gin.WrapH(m.Handler()))
				} else { // moved or off: say so, rather than serve the web app there
					e.GET("/metrics", func(c *gin.Context) {
						c.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "metrics are not served on this port (PARLEY_METRICS_ADDR)"}})
					})
				}
			},
		},
	})
	return &App{
		cfg: cfg, log: log, pg: pg, mongo: mc, cass: cs, sockets: hub, handler: router, router: router, metrics: m, tracing: tel.Tracing,
		redis: rc, node: node, forward: forward, internal: internal,
		Auth: authSvc, Community: communitySvc, Messaging: messagingSvc, Presence: presenceSvc, ReadState: readSvc, Reactions: reactSvc,
		Search: searchSvc, Files: filesSvc,
	}, nil
}

// Reindex writes every channel's messages newer than `since` ago (0: all) from Cassandra to the search index:
// after a crash lost queued index changes, or to fill a new index. It returns the rows read.
func (a *App) Reindex(ctx context.Context, since time.Duration) (int, error) {
	if a.Search == nil {
		return 0, errors.New("search is off (PARLEY_SEARCH_URLS=off)")
	}
	ids, err := postgres.NewCommunityStore(a.pg).AllChannelIDs(ctx)
	if err != nil {
		return 0, err
	}
	var after int64
	if since > 0 {
		after = snowflake.FirstIDAt(time.Now().Add(-since)) - 1
	}
	return a.Search.Reindex(ctx, ids, after)
}

// OwnsChannel reports whether this node holds a channel's lease and serves it from memory (several nodes;
// tests and diagnostics).
func (a *App) OwnsChannel(channelID string) bool {
	id, err := strconv.ParseInt(channelID, 10, 64)
	return err == nil && a.Messaging.Owns(id)
}

// Handler is the HTTP handler serving REST, Socket.IO and the web app.
func (a *App) Handler() http.Handler { return a.handler }

// Routes lists the HTTP routes (tests check that each has an OpenAPI entry).
func (a *App) Routes() gin.RoutesInfo { return a.router.Routes() }

// Metrics is the process's metrics registry.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// TapSockets installs a hook that sees every Socket.IO event and ack the server sends (tests). Call before Serve.
func (a *App) TapSockets(t socketio.Tap) { a.sockets.Tap(t) }

// Wrap puts middleware around the HTTP handler (tests validate every answer against the OpenAPI document). Call
// before Serve.
func (a *App) Wrap(mw func(http.Handler) http.Handler) { a.handler = mw(a.handler) }

// Serve listens until ctx is cancelled, then shuts down gracefully: refuse new messages and store the queued
// ones (their acks still reach the senders), close sockets and HTTP, write presence, read state and reactions, close the
// databases.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := httpserver.New(a.handler, httpserver.Config{
		BodyTimeout: a.cfg.HTTP.BodyTimeout, WriteTimeout: a.cfg.HTTP.WriteTimeout, IdleTimeout: a.cfg.HTTP.IdleTimeout,
		// Uploads: the service refuses a declared size over the limit with a clear message; this only caps reads.
		LargeBody: httpapi.IsUpload, LargeBodyBytes: a.cfg.Uploads.MaxSize + 1<<20, LargeBodyTimeout: a.cfg.Uploads.Timeout,
	})
	errc := make(chan error, 2)
	var internal *http.Server
	if a.node != nil {
		// Join the cluster before taking traffic: until then this node would think it owns every channel.
		if err := a.node.Start(ctx); err != nil {
			a.Close()
			return err
		}
		iln, err := net.Listen("tcp", a.cfg.Cluster.Addr)
		if err != nil {
			a.node.Stop(context.Background())
			a.Close()
			return fmt.Errorf("internal API listener: %w", err)
		}
		internal = &http.Server{Handler: a.internal, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- internal.Serve(iln) }()
		a.log.Info("joined the cluster", "node", a.cfg.NodeID, "internal", iln.Addr().String(), "nodes", len(a.node.Peers()))
	}
	if a.Search != nil {
		a.Search.Start()
	}
	var metricsSrv *http.Server
	if addr := a.cfg.MetricsAddr; addr != "" && addr != "off" {
		// Its own listener: the main port may face the internet, the scraper sits on a private network.
		mln, err := net.Listen("tcp", addr)
		if err != nil {
			if a.node != nil {
				a.node.Stop(context.Background())
			}
			a.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- metricsSrv.Serve(mln) }()
		a.log.Info("serving metrics", "addr", mln.Addr().String())
	}
	stopNotices := a.relayKeyNotices(ctx)
	defer stopNotices()
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// Order matters: refuse new messages and store every queued one while sockets are still open, so their
	// acks reach the senders; then close sockets and HTTP; then the databases.
	flushErr := a.Messaging.Close(shutdownCtx)
	if flushErr != nil {
		a.log.Error("shutdown could not store every queued message", "err", flushErr, "unstored", a.Messaging.Queued())
	} else {
		a.log.Info("all queued messages stored")
	}
	a.sockets.Close()
	a.Presence.Close()
	a.ReadState.Close(shutdownCtx)
	a.Reactions.Close(shutdownCtx)
	if a.Search != nil {
		a.Search.Close(shutdownCtx) // after messaging: every stored change is queued by now
	}
	err := srv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(shutdownCtx)
	}
	a.Files.Close()
	if internal != nil {
		_ = internal.Shutdown(shutdownCtx)
		a.node.Stop(shutdownCtx) // after the leases were released: the others take over without fencing
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("graceful shutdown timed out: %w", err)
	}
	if terr := a.tracing.Shutdown(shutdownCtx); terr != nil { // the spans of the last requests
		a.log.Warn("tracing: spans not exported at shutdown", "err", terr)
	}
	a.Close()
	return errors.Join(flushErr, err)
}

// Close releases the database handles.
func (a *App) Close() {
	if a.forward != nil {
		a.forward.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	a.cass.Close()
	_ = a.mongo.Disconnect(context.Background())
	a.pg.Close()
}

// openObjects opens the object store for uploaded files and returns its readiness check.
func openObjects(cfg config.Storage, calls Telemetry) (attachments.Objects, func(context.Context) error, error) {
	if cfg.Kind == "s3" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		st, err := s3.Open(ctx, s3.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, Calls: calls})
		if err != nil {
			return nil, nil, fmt.Errorf("object store: %w", err)
		}
		return st, st.Ping, nil
	}
	st, err := fs.Open(cfg.Dir)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Ping, nil
}

// writers answers typing's access question with "may write here now": nobody shows as typing in a 1:1 DM that a
// block closed for sending.
type writers struct{ svc *community.Access }

func (w writers) CanRead(ctx context.Context, userID, channelID int64) (model.Channel, string, error) {
	return w.svc.CanWrite(ctx, userID, channelID)
}

// newVerification picks the registration mailer (none, SMTP, or a directory of .eml files in development).
func newVerification(cfg config.Config, pending auth.PendingStore) (auth.Verification, error) {
	if !cfg.Mail.VerifyEmail {
		return auth.Verification{}, nil
	}
	v := auth.Verification{Pending: pending, LinkBase: cfg.PublicOrigin, TTL: cfg.Mail.LinkTTL}
	var err error
	if cfg.Mail.SMTPURL != "" {
		v.Mailer, err = mail.NewSMTP(cfg.Mail.SMTPURL, cfg.Mail.From)
	} else {
		v.Mailer, err = mail.NewDir(cfg.Mail.Dir, cfg.Mail.From)
	}
	return v, err
}

// accessForget clears the access caches here and on the other nodes (a DM's encryption flag changed; it rides on
// the cached channel).
type accessForget struct {
	svc   *community.Access
	peers community.Peers
}

func (a accessForget) AccessChanged() {
	a.svc.ForgetAccess()
	if a.peers != nil {
		a.peers.AccessChanged()
	}
}

// keysCallTimeout bounds one call to the key service while a send waits (it answers in milliseconds; a send it
// cannot admit in time gets a retryable unavailable and nothing is stored).
const keysCallTimeout = 5 * time.Second
