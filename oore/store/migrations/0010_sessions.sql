-- Dashboard sessions (issue 14). The browser's cookie holds a random session id; only its hash
-- is stored, so a copy of the database cannot be used to sign in. A session is bound to the
-- token it was made from: token_id for an API token (revoking the token ends its sessions), or
-- NULL with token_hash for the admin token (changing the admin token ends its sessions).
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT,
    token_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    csrf_secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
