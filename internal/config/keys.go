package config

// KeysVars are the settings of the key service (cmd/keys) beyond the chat server's: it also reads
// PARLEY_POSTGRES_URL (the chat sessions), PARLEY_JWT_* and PARLEY_ALLOWED_ORIGINS from Vars. Kept apart from
// Vars because the chat server does not read them. A default in parentheses names the variable it falls back to.
var KeysVars = []Var{
	{"PARLEY_KEYS_ADDR", "127.0.0.1:8081", "address the key service listens on"},
	{"PARLEY_KEYS_POSTGRES_URL", "(PARLEY_POSTGRES_URL)", "the key service's database (schema `keys`); may be another database than the chat server's"},
	{"PARLEY_KEYS_METRICS_ADDR", "", "where GET /metrics is served: empty, on PARLEY_KEYS_ADDR; an address (10.0.0.5:9091), only there; off, nowhere"},
	{"PARLEY_KEYS_ALLOWED_ORIGINS", "(PARLEY_PUBLIC_ORIGIN + PARLEY_ALLOWED_ORIGINS)", "browser origins allowed by CORS (comma-separated)"},
	{"PARLEY_KEYS_ROTATE_AFTER", "168h", "an epoch older than this is due for rotation (N days)"},
	{"PARLEY_KEYS_ROTATE_MESSAGES", "1000", "an epoch with this many application messages is due for rotation (M)"},
	{"PARLEY_KEYS_ROTATE_GRACE", "24h", "overdue by this long (or this long after a member device was removed), application messages are refused"},
	{"PARLEY_KEYS_ROTATE_GRACE_MESSAGES", "100", "overdue by this many messages, application messages are refused"},
	{"PARLEY_KEYS_CLAIM_BURST", "20", "key-package claims a user may make at once (each claim takes one one-time package of every device of the target user)"},
	{"PARLEY_KEYS_CLAIM_EVERY", "3s", "after the burst, one claim per user per this long: nobody can drain another user's one-time packages (one budget shared by all replicas in PARLEY_KEYS_REDIS_URL; without it, or while it does not answer, one per replica)"},
	{"PARLEY_KEYS_SWEEP_EVERY", "1m", "how often each replica looks for groups whose epoch turned due for rotation by age and announces them (with PARLEY_KEYS_REDIS_URL; each group epoch once, by one replica)"},
}
