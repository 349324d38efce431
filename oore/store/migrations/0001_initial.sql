-- The initial schema. Times are ISO-8601 UTC strings; ids are ULIDs; JSON columns are text.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE repositories (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL CHECK (provider IN ('github', 'gitlab')),
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    clone_url TEXT NOT NULL,
    default_branch TEXT NOT NULL DEFAULT 'main',
    active INTEGER NOT NULL DEFAULT 1,
    github_repo_id INTEGER,
    github_installation_id INTEGER,
    gitlab_project_id INTEGER,
    webhook_secret_sealed BLOB,      -- GitHub: AES-GCM sealed, AAD repositories:<id>:webhook_secret
    webhook_token_hmac TEXT,         -- GitLab: only an HMAC of the token is kept
    badge_public INTEGER NOT NULL DEFAULT 0,
    pipeline_yaml TEXT,
    build_counter INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (provider, owner, name)
);
CREATE INDEX repositories_github_id ON repositories (github_repo_id);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    event_type TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    repository_id TEXT REFERENCES repositories (id) ON DELETE SET NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'processed', 'ignored', 'failed')),
    reason TEXT,
    trigger TEXT,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    UNIQUE (provider, delivery_id)
);
CREATE INDEX webhook_events_state ON webhook_events (state, id);
CREATE INDEX webhook_events_repository ON webhook_events (repository_id, id);

CREATE TABLE builds (
    id TEXT PRIMARY KEY,
    repository_id TEXT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    event_id TEXT REFERENCES webhook_events (id) ON DELETE SET NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    retry_of TEXT REFERENCES builds (id) ON DELETE SET NULL,
    queue_reason TEXT,
    error TEXT,
    process_group INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    UNIQUE (repository_id, number)
);
CREATE INDEX builds_status ON builds (status, id);
CREATE INDEX builds_repository ON builds (repository_id, id);
-- One build per workflow per webhook delivery, also across a crash between steps.
CREATE UNIQUE INDEX builds_event_workflow ON builds (event_id, workflow) WHERE event_id IS NOT NULL;

CREATE TABLE steps (
    id TEXT PRIMARY KEY,
    build_id TEXT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at TEXT,
    finished_at TEXT,
    UNIQUE (build_id, idx)
);

CREATE TABLE artifacts (
    id TEXT PRIMARY KEY,
    build_id TEXT NOT NULL REFERENCES builds (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (build_id, name)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE secrets (
    id TEXT PRIMARY KEY,
    group_name TEXT NOT NULL,
    name TEXT NOT NULL,
    value_sealed BLOB NOT NULL,      -- AAD secrets:<id>:value
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (group_name, name)
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value_sealed BLOB NOT NULL,      -- AAD credentials:<id>:value
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, name)
);

CREATE TABLE notification_outbox (
    id TEXT PRIMARY KEY,
    build_id TEXT REFERENCES builds (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX notification_outbox_due ON notification_outbox (state, next_attempt_at);
