-- GitLab OAuth: the OAuth application Oore signs in with, the single-use states of sign-ins in
-- progress, the connection's tokens, and the projects enabled through it with their hooks.
-- Sealed columns are AES-GCM with AAD "<table>:<id>:<column>" (see oore.crypto.aad).

-- One row ('default'): an Oore instance talks to one GitLab (OORE_GITLAB_URL).
CREATE TABLE gitlab_application (
    id TEXT PRIMARY KEY CHECK (id = 'default'),
    application_id TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Only a hash of each state is kept: the state itself travels in the sign-in URL. A callback
-- deletes its row, so a state opens at most one connection (a replay finds nothing).
CREATE TABLE gitlab_oauth_states (
    state_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);

CREATE TABLE gitlab_connection (
    id TEXT PRIMARY KEY CHECK (id = 'default'),
    username TEXT,
    access_token_sealed BLOB NOT NULL,
    refresh_token_sealed BLOB NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A repository registered by enabling a GitLab project through OAuth; its hook id while enabled
-- (NULL once disabled). Such repositories are fetched with the connection's access token.
CREATE TABLE gitlab_projects (
    repository_id TEXT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    project_id INTEGER NOT NULL,
    hook_id INTEGER,
    enabled_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX gitlab_projects_project ON gitlab_projects (project_id);
