// Package config reads the server's settings from environment variables. Every variable is declared once in
// Vars (name, default, meaning): the README table and the Docker checks are derived from that list.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Var documents one environment variable.
type Var struct {
	Name    string
	Default string
	Help    string
}

// Vars lists every variable the server reads, with its default (pointing at the local stack).
var Vars = []Var{
	{"PARLEY_HTTP_ADDR", "127.0.0.1:8080", "address the HTTP + Socket.IO server listens on (loopback unless set: e.g. :8080 for every interface, as Docker does)"},
	{"PARLEY_PUBLIC_ORIGIN", "http://localhost:8080", "origin the web app is served from; always allowed by the socket Origin check; https:// makes cookies Secure"},
	{"PARLEY_ALLOWED_ORIGINS", "", "extra browser origins (comma-separated) allowed by the socket handshake's Origin check (make run adds http://127.0.0.1:8080 and the Vite dev server)"},
	{"PARLEY_HTTP_BODY_TIMEOUT", "30s", "time a client has to send a request's body (REST, long-polling POSTs; not WebSockets): a trickled body is cut"},
	{"PARLEY_HTTP_WRITE_TIMEOUT", "60s", "time to write a response, a long-poll's wait included (at least 30s: above the 25 s ping interval); a client that stops reading is cut"},
	{"PARLEY_HTTP_IDLE_TIMEOUT", "60s", "an idle keep-alive connection is closed after this long"},
	{"PARLEY_HSTS_MAX_AGE", "0s", "Strict-Transport-Security max-age; 0 = no header. Set (e.g. 8760h) only when PARLEY_PUBLIC_ORIGIN is https://"},
	{"PARLEY_TRUSTED_PROXIES", "none", "reverse proxies (comma-separated IPs or CIDRs) whose X-Forwarded-For is believed, so rate limits see client addresses; none = trust no header"},
	{"PARLEY_STATIC_DIR", "frontend/dist", "built front end served at /"},
	{"PARLEY_DATA_DIR", ".local", "folder for the generated development JWT key"},
	{"PARLEY_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"PARLEY_NODE_ID", "1", "this process's id generator node number (0-1023); unique per server replica"},
	{"PARLEY_POSTGRES_URL", "postgres://postgres@127.0.0.1:55432/parley?sslmode=disable", "PostgreSQL connection URL (users, servers, channels, memberships, tokens)"},
	{"PARLEY_MONGO_URI", "mongodb://127.0.0.1:57017/", "MongoDB connection URI (presence, channel metadata, read state)"},
	{"PARLEY_MONGO_DATABASE", "parley", "MongoDB database name"},
	{"PARLEY_CASSANDRA_HOSTS", "127.0.0.1:59042", "Cassandra contact points, comma-separated host:port (message log)"},
	{"PARLEY_CASSANDRA_KEYSPACE", "parley", "Cassandra keyspace"},
	{"PARLEY_CASSANDRA_REPLICATION", "{'class': 'SimpleStrategy', 'replication_factor': 1}", "replication map used when the keyspace is created"},
	{"PARLEY_CASSANDRA_CONSISTENCY", "LOCAL_QUORUM", "consistency for message reads and writes"},
	{"PARLEY_SEARCH_URLS", "http://127.0.0.1:59200", "OpenSearch node URLs, comma-separated (message search); `off` = no search (the endpoint answers unavailable)"},
	{"PARLEY_SEARCH_INDEX", "parley-messages", "name of the message search index: an alias of `<name>-v1`, created with its mapping (and built from Cassandra) when missing"},
	{"PARLEY_SEARCH_SHARDS", "1", "primary shards of the search index when it is created (more to spread it over an OpenSearch cluster)"},
	{"PARLEY_REDIS_URL", "redis://127.0.0.1:56379/0", "Redis URL (several nodes only: node and channel leases, the bus between nodes); a standalone Redis"},
	{"PARLEY_REDIS_PREFIX", "parley", "prefix of every Redis key and channel this cluster uses (several clusters can share one Redis)"},
	{"PARLEY_CLUSTER_ADDR", "", "private address of the internal API between nodes (e.g. 10.0.0.5:9100); empty = a single node (Redis unused)"},
	{"PARLEY_CLUSTER_ADVERTISE", "", "address the other nodes dial to reach this one; empty = PARLEY_CLUSTER_ADDR"},
	{"PARLEY_CLUSTER_SECRET", "", "shared secret (32+ bytes) that nodes present to each other's internal API; required with PARLEY_CLUSTER_ADDR"},
	{"PARLEY_CLUSTER_LEASE_TTL", "5s", "a node whose lease is not renewed for this long is dead: its channels move to the others"},
	{"PARLEY_JWT_SECRET", "", "HMAC key for access tokens (32+ bytes); empty = a generated key persisted in PARLEY_DATA_DIR (development only)"},
	{"PARLEY_JWT_ISSUER", "parley", "access token issuer (iss)"},
	{"PARLEY_JWT_AUDIENCE", "parley-api", "access token audience (aud)"},
	{"PARLEY_ACCESS_TOKEN_TTL", "15m", "access token lifetime"},
	{"PARLEY_REFRESH_TOKEN_TTL", "720h", "refresh token (session) lifetime"},
	{"PARLEY_BCRYPT_COST", "12", "bcrypt cost for password hashes (10-15)"},
	{"PARLEY_REGISTER_BURST", "10", "registrations one IP address may make at once (then one per 30 s); raise for load tests"},
	{"PARLEY_REGISTRATION", "auto", "verify: registration mails a link and creates the account when it is opened, answering the same whether or not the email has an account; open: the account is created at once (a taken email is refused generically, rate-limited); auto: verify when mail is configured"},
	{"PARLEY_SMTP_URL", "", "SMTP server for registration mails: smtp://user:password@host:587 (STARTTLS required; ?tls=opportunistic|none for a trusted relay) or smtps://...:465"},
	{"PARLEY_MAIL_FROM", "", "sender address of the server's mails (required with PARLEY_SMTP_URL)"},
	{"PARLEY_MAIL_DIR", "", "development: write mails as .eml files into this directory instead of sending them"},
	{"PARLEY_VERIFY_LINK_TTL", "24h", "how long a registration link works"},
	{"PARLEY_LOGIN_IP_BURST", "20", "login attempts one IP address may make at once (then 10/min); failed logins are also limited per account (README, Security)"},
	{"PARLEY_FLUSH_BATCH", "64", "flush a channel's queued messages to Cassandra once this many are waiting"},
	{"PARLEY_FLUSH_DELAY", "5ms", "... or once the oldest queued message is this old"},
	{"PARLEY_QUEUE_LIMIT", "10000", "max messages waiting for Cassandra across all channels; beyond it sends get `unavailable`"},
	{"PARLEY_WINDOW_SIZE", "200", "recent messages kept in memory per active channel (serves the newest history pages)"},
	{"PARLEY_IDLE_EVICT", "10m", "an active channel with no traffic for this long is dropped from memory"},
	{"PARLEY_STATE_WRITE_INTERVAL", "5s", "read positions, channel activity and reactions are written to MongoDB coalesced, once per this interval (memory serves them meanwhile; a position moved only by the user's own message every six intervals)"},
	{"PARLEY_RETRY_HORIZON", "10m", "a resend with the same nonce returns the stored message if it came this soon..."},
	{"PARLEY_RETRY_MESSAGES", "20000", "...and the message is among its channel's newest this many (the retry horizon)"},
	{"PARLEY_SEND_RATE", "10", "messages per second one user may send, sustained"},
	{"PARLEY_SEND_BURST", "20", "messages one user may send at once before the rate applies"},
	{"PARLEY_SERVERS_PER_USER", "100", "servers one user may be in (created or joined); 0 = no limit"},
	{"PARLEY_CHANNELS_PER_SERVER", "500", "channels one server may have; 0 = no limit"},
	{"PARLEY_INVITES_PER_SERVER", "1000", "usable (unexpired, not used up) invites one server may have; 0 = no limit"},
	{"PARLEY_INVITE_BURST", "10", "invites one user may create at once (per node)..."},
	{"PARLEY_INVITE_EVERY", "1m", "...then one per this interval"},
	{"PARLEY_DM_CREATE_BURST", "10", "new DMs (1:1 or group) one user may open at once (per node)..."},
	{"PARLEY_DM_CREATE_EVERY", "2m", "...then one per this interval"},
	{"PARLEY_GROUP_DM_SIZE", "10", "people in a group DM, its creator included (2-100)"},
	{"PARLEY_PRESENCE_GRACE", "5s", "a user goes offline this long after their last socket closed (a page reload does not flicker)"},
	{"PARLEY_API_RATE", "20", "authenticated REST requests per second one user may make, sustained (429 beyond; sending messages has its own limit)"},
	{"PARLEY_API_BURST", "120", "authenticated REST requests one user may make at once (the web app's start takes a few dozen)"},
	{"PARLEY_MAX_SOCKETS_PER_USER", "20", "open sockets one account may hold on one node (tabs and devices); more are refused with too_many_connections"},
	{"PARLEY_SOCKET_QUEUE_LIMIT", "1048576", "bytes of events waiting for one slow client before the server closes its connection (it reconnects and catches up)"},
	{"PARLEY_METRICS_ADDR", "", "Prometheus /metrics: empty = on the main port (simple; anyone who reaches the port can read it); host:port = only on that separate listener (keep it private, e.g. 10.0.0.5:9090); off = not served"},
	{"PARLEY_OTLP_ENDPOINT", "", "OpenTelemetry tracing: the OTLP/HTTP collector's base URL (e.g. http://127.0.0.1:4318; spans go to /v1/traces); empty = tracing off"},
	{"PARLEY_TRACE_SAMPLE", "1", "share of new traces recorded when tracing is on (0-1; lower it on a busy server); requests with a sampled traceparent are always recorded"},
	{"PARLEY_STORAGE", "fs", "where uploaded files (attachments) are kept: fs (a local directory, one node) or s3 (any S3-compatible store; needed for several nodes)"},
	{"PARLEY_STORAGE_DIR", ".local/files", "the directory of PARLEY_STORAGE=fs"},
	{"PARLEY_S3_ENDPOINT", "", "PARLEY_STORAGE=s3: the store's URL (http://127.0.0.1:57070 for the local stack's versitygw, https://s3.<region>.amazonaws.com...)"},
	{"PARLEY_S3_BUCKET", "parley", "PARLEY_STORAGE=s3: the bucket (created at start if missing)"},
	{"PARLEY_S3_ACCESS_KEY", "", "PARLEY_STORAGE=s3: access key id"},
	{"PARLEY_S3_SECRET_KEY", "", "PARLEY_STORAGE=s3: secret access key"},
	{"PARLEY_S3_REGION", "us-east-1", "PARLEY_STORAGE=s3: region"},
	{"PARLEY_UPLOAD_MAX_SIZE", "26214400", "largest file one upload may be, in bytes (25 MiB)"},
	{"PARLEY_UPLOAD_TYPES", "image/png,image/jpeg,image/gif,image/webp,video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg,audio/wav,audio/webm,audio/mp4,audio/flac,text/*,application/json,application/pdf,application/zip,application/gzip,application/x-tar,application/x-7z-compressed,image/svg+xml", "file types (sniffed from the bytes) that may be uploaded; type/* matches a family"},
	{"PARLEY_UPLOAD_MAX_PIXELS", "40000000", "largest image (width × height) accepted; larger ones are refused before they are decoded"},
	{"PARLEY_UPLOAD_BURST", "20", "files one user may upload at once (per node)..."},
	{"PARLEY_UPLOAD_EVERY", "2s", "...then one per this interval"},
	{"PARLEY_UPLOAD_TIMEOUT", "10m", "time an upload's body has to arrive"},
	{"PARLEY_UPLOAD_UNSENT_TTL", "24h", "uploaded files never sent in a message are deleted after this long"},
	{"PARLEY_FFMPEG", "", "ffmpeg for video poster frames: a path, empty to look it up in PATH (none found: videos get the player's generic poster), off to make none"},
	{"PARLEY_FFMPEG_JOBS", "1", "poster frames made at once per node (each ffmpeg runs one thread, at most 20 s and 1 GiB)"},
	{"PARLEY_UPLOAD_TMP_DIR", "", "where uploads are spooled while they are checked (empty: the system's temporary directory)"},
	{"PARLEY_KEYS_REDIS_URL", "", "Redis where the key service publishes its notices (a Commit, a Welcome, a device added or removed, a rotation due) and the server reads them to send e2ee:sync to the users' sockets (channel <PARLEY_REDIS_PREFIX>:keys:notices); set the same URL on both; empty = browsers find changes by their 60 s poll"},
	{"PARLEY_KEYS_URL", "", "the key service of encrypted DMs (cmd/keys, e.g. http://127.0.0.1:8081): the server proxies /keys/ to it, so the web app reaches it on its own origin; empty = /keys/ answers 503 and the app offers no encryption"},
	{"PARLEY_PPROF_ADDR", "", "if set (e.g. 127.0.0.1:6060), serve Go's pprof profiles on this separate address; keep it on loopback"},
	{"PARLEY_SHUTDOWN_TIMEOUT", "20s", "graceful shutdown budget (flushes every queued message first)"},
}

// Config is the parsed configuration.
type Config struct {
	HTTPAddr        string
	PublicOrigin    string
	AllowedOrigins  []string // includes PublicOrigin
	TrustedProxies  []string // empty: X-Forwarded-For is ignored
	StaticDir       string
	DataDir         string
	LogLevel        slog.Level
	NodeID          int64
	ShutdownTimeout time.Duration
	PresenceGrace   time.Duration
	PprofAddr       string // empty: profiling off
	// KeysURL is the key service the server reverse-proxies /keys/ to (nil: off).
	KeysURL *url.URL
	// KeysRedisURL is where the key service's notices are published and read ("": none).
	KeysRedisURL string
	// MetricsAddr: "" serves /metrics on the main port, "off" nowhere, else on its own listener.
	MetricsAddr string
	// OTLPEndpoint: "" leaves tracing off; TraceSample is the share of new traces recorded.
	OTLPEndpoint string
	TraceSample  float64
	HTTP         HTTP

	PostgresURL string
	MongoURI    string
	MongoDB     string
	Cassandra   Cassandra
	RedisURL    string
	Cluster     Cluster
	Search      Search

	Auth      Auth
	Mail      Mail
	Messaging Messaging
	Sockets   Sockets
	API       API
	Limits    Limits
	Storage   Storage
	Uploads   Uploads
}

// Storage says where uploaded files are kept.
type Storage struct {
	Kind        string // fs or s3
	Dir         string
	S3Endpoint  string
	S3Bucket    string
	S3AccessKey string
	S3SecretKey string
	S3Region    string
}

// Uploads are the limits of file uploads.
type Uploads struct {
	MaxSize    int64
	Types      []string
	MaxPixels  int64
	Burst      int
	Every      time.Duration
	Timeout    time.Duration
	UnsentTTL  time.Duration
	TempDir    string
	FFmpeg     string // "" = PATH, "off" = no posters
	FFmpegJobs int
}

// Mail settings: where the server's mails go, and whether registration verifies the address.
type Mail struct {
	SMTPURL, From, Dir string
	// VerifyEmail: registration mails a link (PARLEY_REGISTRATION verify, or auto with a mailer).
	VerifyEmail bool
	LinkTTL     time.Duration
}

// Sockets bounds what one client can hold on a node.
type Sockets struct {
	MaxPerUser int
	QueueLimit int // bytes
}

// API bounds each user's authenticated REST requests.
type API struct {
	Rate  int // per second
	Burst int
}

// HTTP settings of the public listener.
type HTTP struct {
	BodyTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	HSTSMaxAge   time.Duration // 0: no Strict-Transport-Security
	SecureOrigin bool          // PublicOrigin is https://
}

// Limits are the community quotas (Discord's defaults); a zero cap means no limit.
type Limits struct {
	ServersPerUser    int
	ChannelsPerServer int
	InvitesPerServer  int
	InviteBurst       int
	InviteEvery       time.Duration
	DMBurst           int
	DMEvery           time.Duration
	GroupDMSize       int
}

// Cluster settings; Addr empty means a single node.
type Cluster struct {
	Addr        string
	Advertise   string
	Secret      []byte
	LeaseTTL    time.Duration
	RedisPrefix string
}

// Search settings (OpenSearch).
type Search struct {
	URLs   []string // empty: search is off
	Index  string
	Shards int
}

// Cassandra settings.
type Cassandra struct {
	Hosts       []string
	Keyspace    string
	Replication string
	Consistency string
}

// Auth settings. JWTSecret is empty until ResolveJWTSecret fills it.
type Auth struct {
	JWTSecret       []byte
	GeneratedSecret bool
	Issuer          string
	Audience        string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	BcryptCost      int
	// Per-IP bursts for registration and login (behind a proxy, set up trusted proxies first).
	RegisterBurst int
	LoginIPBurst  int
}

// Messaging settings for the in-memory conversations and their Cassandra flushes.
type Messaging struct {
	FlushBatch    int
	FlushDelay    time.Duration
	QueueLimit    int
	WindowSize    int
	IdleEvict     time.Duration
	RetryHorizon  time.Duration
	RetryMessages int
	StateWrites   time.Duration
	SendRate      int // per second
	SendBurst     int
}

// Load reads the configuration through getenv (os.Getenv in main, a map in tests).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		HTTPAddr:        r.str("PARLEY_HTTP_ADDR"),
		PublicOrigin:    strings.TrimRight(r.str("PARLEY_PUBLIC_ORIGIN"), "/"),
		StaticDir:       r.str("PARLEY_STATIC_DIR"),
		DataDir:         r.str("PARLEY_DATA_DIR"),
		NodeID:          int64(r.intRange("PARLEY_NODE_ID", 0, 1023)),
		ShutdownTimeout: r.duration("PARLEY_SHUTDOWN_TIMEOUT"),
		PresenceGrace:   r.duration("PARLEY_PRESENCE_GRACE"),
		PprofAddr:       strings.TrimSpace(getenv("PARLEY_PPROF_ADDR")),
		MetricsAddr:     strings.TrimSpace(getenv("PARLEY_METRICS_ADDR")),
		OTLPEndpoint:    strings.TrimSpace(getenv("PARLEY_OTLP_ENDPOINT")),
		TraceSample:     r.ratio("PARLEY_TRACE_SAMPLE"),
		PostgresURL:     r.str("PARLEY_POSTGRES_URL"),
		MongoURI:        r.str("PARLEY_MONGO_URI"),
		MongoDB:         r.str("PARLEY_MONGO_DATABASE"),
		Cassandra: Cassandra{
			Hosts:       r.list("PARLEY_CASSANDRA_HOSTS"),
			Keyspace:    r.str("PARLEY_CASSANDRA_KEYSPACE"),
			Replication: r.str("PARLEY_CASSANDRA_REPLICATION"),
			Consistency: strings.ToUpper(r.str("PARLEY_CASSANDRA_CONSISTENCY")),
		},
		RedisURL:     r.str("PARLEY_REDIS_URL"),
		KeysRedisURL: r.str("PARLEY_KEYS_REDIS_URL"),
		Search: Search{
			URLs:   r.list("PARLEY_SEARCH_URLS"),
			Index:  r.str("PARLEY_SEARCH_INDEX"),
			Shards: r.intRange("PARLEY_SEARCH_SHARDS", 1, 1024),
		},
		Cluster: Cluster{
			Addr:        strings.TrimSpace(getenv("PARLEY_CLUSTER_ADDR")),
			Advertise:   strings.TrimSpace(getenv("PARLEY_CLUSTER_ADVERTISE")),
			Secret:      []byte(getenv("PARLEY_CLUSTER_SECRET")),
			LeaseTTL:    r.duration("PARLEY_CLUSTER_LEASE_TTL"),
			RedisPrefix: r.str("PARLEY_REDIS_PREFIX"),
		},
		HTTP: HTTP{
			BodyTimeout:  r.duration("PARLEY_HTTP_BODY_TIMEOUT"),
			WriteTimeout: r.duration("PARLEY_HTTP_WRITE_TIMEOUT"),
			IdleTimeout:  r.duration("PARLEY_HTTP_IDLE_TIMEOUT"),
			HSTSMaxAge:   r.durationOrZero("PARLEY_HSTS_MAX_AGE"),
		},
		Auth: Auth{
			JWTSecret:     []byte(r.str("PARLEY_JWT_SECRET")),
			Issuer:        r.str("PARLEY_JWT_ISSUER"),
			Audience:      r.str("PARLEY_JWT_AUDIENCE"),
			AccessTTL:     r.duration("PARLEY_ACCESS_TOKEN_TTL"),
			RefreshTTL:    r.duration("PARLEY_REFRESH_TOKEN_TTL"),
			BcryptCost:    r.intRange("PARLEY_BCRYPT_COST", 4, 15),
			RegisterBurst: r.intRange("PARLEY_REGISTER_BURST", 1, 10_000_000),
			LoginIPBurst:  r.intRange("PARLEY_LOGIN_IP_BURST", 1, 10_000_000),
		},
		Messaging: Messaging{
			FlushBatch:    r.intRange("PARLEY_FLUSH_BATCH", 1, 1000),
			FlushDelay:    r.duration("PARLEY_FLUSH_DELAY"),
			QueueLimit:    r.intRange("PARLEY_QUEUE_LIMIT", 1, 10_000_000),
			WindowSize:    r.intRange("PARLEY_WINDOW_SIZE", 100, 100_000),
			IdleEvict:     r.duration("PARLEY_IDLE_EVICT"),
			RetryHorizon:  r.duration("PARLEY_RETRY_HORIZON"),
			RetryMessages: r.intRange("PARLEY_RETRY_MESSAGES", 100, 10_000_000),
			StateWrites:   r.duration("PARLEY_STATE_WRITE_INTERVAL"),
			SendRate:      r.intRange("PARLEY_SEND_RATE", 1, 1_000_000),
			SendBurst:     r.intRange("PARLEY_SEND_BURST", 1, 1_000_000),
		},
		API: API{Rate: r.intRange("PARLEY_API_RATE", 1, 1_000_000), Burst: r.intRange("PARLEY_API_BURST", 1, 1_000_000)},
		Sockets: Sockets{
			MaxPerUser: r.intRange("PARLEY_MAX_SOCKETS_PER_USER", 1, 100_000),
			QueueLimit: r.intRange("PARLEY_SOCKET_QUEUE_LIMIT", 64<<10, 1<<30),
		},
	}
	c.Limits = Limits{
		ServersPerUser:    r.intRange("PARLEY_SERVERS_PER_USER", 0, 1_000_000),
		ChannelsPerServer: r.intRange("PARLEY_CHANNELS_PER_SERVER", 0, 1_000_000),
		InvitesPerServer:  r.intRange("PARLEY_INVITES_PER_SERVER", 0, 1_000_000),
		InviteBurst:       r.intRange("PARLEY_INVITE_BURST", 1, 1_000_000),
		InviteEvery:       r.duration("PARLEY_INVITE_EVERY"),
		DMBurst:           r.intRange("PARLEY_DM_CREATE_BURST", 1, 1_000_000),
		DMEvery:           r.duration("PARLEY_DM_CREATE_EVERY"),
		GroupDMSize:       r.intRange("PARLEY_GROUP_DM_SIZE", 2, 100),
	}
	c.Mail = Mail{SMTPURL: r.str("PARLEY_SMTP_URL"), From: r.str("PARLEY_MAIL_FROM"), Dir: r.str("PARLEY_MAIL_DIR"), LinkTTL: r.duration("PARLEY_VERIFY_LINK_TTL")}
	hasMailer := c.Mail.SMTPURL != "" || c.Mail.Dir != ""
	if c.Mail.SMTPURL != "" && c.Mail.Dir != "" {
		r.fail("PARLEY_MAIL_DIR", "cannot be set together with PARLEY_SMTP_URL")
	}
	switch r.str("PARLEY_REGISTRATION") {
	case "auto":
		c.Mail.VerifyEmail = hasMailer
	case "verify":
		c.Mail.VerifyEmail = true
		if !hasMailer {
			r.fail("PARLEY_REGISTRATION", "verify needs PARLEY_SMTP_URL (or PARLEY_MAIL_DIR in development)")
		}
	case "open":
	default:
		r.fail("PARLEY_REGISTRATION", "must be auto, verify or open")
	}
	if len(c.Search.URLs) == 1 && strings.EqualFold(c.Search.URLs[0], "off") {
		c.Search.URLs = nil
	}
	c.Storage = Storage{Kind: strings.ToLower(r.str("PARLEY_STORAGE")), Dir: r.str("PARLEY_STORAGE_DIR"),
		S3Endpoint: strings.TrimSpace(getenv("PARLEY_S3_ENDPOINT")), S3Bucket: r.str("PARLEY_S3_BUCKET"),
		S3AccessKey: strings.TrimSpace(getenv("PARLEY_S3_ACCESS_KEY")), S3SecretKey: strings.TrimSpace(getenv("PARLEY_S3_SECRET_KEY")),
		S3Region: r.str("PARLEY_S3_REGION")}
	switch c.Storage.Kind {
	case "fs":
	case "s3":
		if c.Storage.S3Endpoint == "" {
			r.fail("PARLEY_S3_ENDPOINT", "must be set when PARLEY_STORAGE=s3")
		}
	default:
		r.fail("PARLEY_STORAGE", "must be fs or s3")
	}
	c.Uploads = Uploads{
		MaxSize:    int64(r.intRange("PARLEY_UPLOAD_MAX_SIZE", 1, 5<<30)),
		Types:      r.list("PARLEY_UPLOAD_TYPES"),
		MaxPixels:  int64(r.intRange("PARLEY_UPLOAD_MAX_PIXELS", 1, 1_000_000_000)),
		Burst:      r.intRange("PARLEY_UPLOAD_BURST", 1, 1_000_000),
		Every:      r.duration("PARLEY_UPLOAD_EVERY"),
		Timeout:    r.duration("PARLEY_UPLOAD_TIMEOUT"),
		UnsentTTL:  r.duration("PARLEY_UPLOAD_UNSENT_TTL"),
		TempDir:    strings.TrimSpace(getenv("PARLEY_UPLOAD_TMP_DIR")),
		FFmpeg:     strings.TrimSpace(getenv("PARLEY_FFMPEG")),
		FFmpegJobs: r.intRange("PARLEY_FFMPEG_JOBS", 1, 64),
	}
	c.AllowedOrigins = append([]string{c.PublicOrigin}, r.list("PARLEY_ALLOWED_ORIGINS")...)
	c.HTTP.SecureOrigin = strings.HasPrefix(c.PublicOrigin, "https://")
	if !c.HTTP.SecureOrigin && !strings.HasPrefix(c.PublicOrigin, "http://") {
		r.fail("PARLEY_PUBLIC_ORIGIN", "must start with http:// or https://")
	}
	if c.HTTP.HSTSMaxAge > 0 && !c.HTTP.SecureOrigin {
		// Browsers ignore HSTS over plain HTTP; configured anyway it says someone thinks there is TLS when there is not.
		r.fail("PARLEY_HSTS_MAX_AGE", "needs an https:// PARLEY_PUBLIC_ORIGIN")
	}
	if c.HTTP.WriteTimeout < 30*time.Second {
		r.fail("PARLEY_HTTP_WRITE_TIMEOUT", "must be at least 30s (a long-poll waits up to the 25 s ping interval)")
	}
	if v := c.KeysRedisURL; v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
		r.fail("PARLEY_KEYS_REDIS_URL", "must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0")
	}
	if v := strings.TrimSpace(getenv("PARLEY_KEYS_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			r.fail("PARLEY_KEYS_URL", "must be an http:// or https:// origin such as http://127.0.0.1:8081")
		} else {
			c.KeysURL = u
		}
	}
	if proxies := r.list("PARLEY_TRUSTED_PROXIES"); !(len(proxies) == 1 && proxies[0] == "none") {
		c.TrustedProxies = proxies
	}
	switch strings.ToLower(r.str("PARLEY_LOG_LEVEL")) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		r.fail("PARLEY_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if len(c.Auth.JWTSecret) > 0 && len(c.Auth.JWTSecret) < 32 {
		r.fail("PARLEY_JWT_SECRET", "must be at least 32 bytes")
	}
	if c.Cluster.Addr != "" {
		if c.Cluster.Advertise == "" {
			c.Cluster.Advertise = c.Cluster.Addr
		}
		if len(c.Cluster.Secret) < 32 {
			r.fail("PARLEY_CLUSTER_SECRET", "must be at least 32 bytes when PARLEY_CLUSTER_ADDR is set")
		}
		if len(c.Auth.JWTSecret) == 0 {
			r.fail("PARLEY_JWT_SECRET", "must be set (the same on every node) when PARLEY_CLUSTER_ADDR is set")
		}
		// An owner writes only until its lease's safe end (TTL - 1 s) and stamps its first write of a channel 1 s
		// ahead (clock margin); below 3 s that leaves no room between two renewals (every TTL/4).
		if c.Cluster.LeaseTTL < 3*time.Second {
			r.fail("PARLEY_CLUSTER_LEASE_TTL", "must be at least 3s")
		}
	}
	if len(c.Cassandra.Hosts) == 0 {
		r.fail("PARLEY_CASSANDRA_HOSTS", "must name at least one host")
	}
	return c, errors.Join(r.errs...)
}

// ResolveJWTSecret fills Auth.JWTSecret when it is not configured: a random key is generated once and kept in
// DataDir/jwt-dev.key, so restarting a development server does not log everybody out.
func (c *Config) ResolveJWTSecret() error {
	if len(c.Auth.JWTSecret) > 0 {
		return nil
	}
	path := filepath.Join(c.DataDir, "jwt-dev.key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 64 {
		c.Auth.JWTSecret = []byte(strings.TrimSpace(string(b)))
		c.Auth.GeneratedSecret = true
		return nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	key := hex.EncodeToString(buf)
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir for the dev JWT key: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing dev JWT key: %w", err)
	}
	c.Auth.JWTSecret = []byte(key)
	c.Auth.GeneratedSecret = true
	return nil
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, msg string) { r.errs = append(r.errs, fmt.Errorf("%s %s", name, msg)) }

func (r *reader) str(name string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return Default(name)
}

// Default is a variable's default from Vars (test harnesses use it to reach the local stack the same way).
func Default(name string) string {
	for _, v := range Vars {
		if v.Name == name {
			return v.Default
		}
	}
	panic("config: undeclared variable " + name) // a programming error: every variable must be in Vars
}

func (r *reader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.str(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

func (r *reader) duration(name string) time.Duration {
	d, err := time.ParseDuration(r.str(name))
	if err != nil || d <= 0 {
		r.fail(name, "must be a positive duration like 15m or 5ms")
	}
	return d
}

// durationOrZero is duration that also accepts 0 (off).
func (r *reader) durationOrZero(name string) time.Duration {
	d, err := time.ParseDuration(r.str(name))
	if err != nil || d < 0 {
		r.fail(name, "must be 0 or a positive duration like 8760h")
	}
	return d
}

func (r *reader) intRange(name string, lo, hi int) int {
	n, err := strconv.Atoi(r.str(name))
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("must be an integer in [%d, %d]", lo, hi))
	}
	return n
}

// ratio reads a share in [0, 1].
func (r *reader) ratio(name string) float64 {
	f, err := strconv.ParseFloat(r.str(name), 64)
	if err != nil || f < 0 || f > 1 {
		r.fail(name, "must be a number in [0, 1]")
	}
	return f
}
