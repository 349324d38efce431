-- The GitHub App made through the manifest flow, the states that protect that flow, and the
-- installations GitHub reports through the app's webhooks.

-- At most one app: setting up again replaces it (and forgets the old app's installations).
-- Secrets are AES-GCM sealed with AAD github_app:<id>:<column>.
CREATE TABLE github_app (
    id TEXT PRIMARY KEY,
    app_id INTEGER NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    html_url TEXT NOT NULL,
    client_id TEXT NOT NULL,
    private_key_sealed BLOB NOT NULL,
    webhook_secret_sealed BLOB NOT NULL,
    client_secret_sealed BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Only a hash of each state is kept; a state is deleted when used, so it works once.
CREATE TABLE github_manifest_states (
    state_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE github_installations (
    id INTEGER PRIMARY KEY,          -- GitHub's installation id
    account TEXT NOT NULL,
    account_type TEXT NOT NULL,
    repository_selection TEXT NOT NULL,
    suspended INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE github_installation_repositories (
    installation_id INTEGER NOT NULL REFERENCES github_installations (id) ON DELETE CASCADE,
    repo_id INTEGER NOT NULL,        -- GitHub's repository id
    full_name TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (installation_id, repo_id)
);
