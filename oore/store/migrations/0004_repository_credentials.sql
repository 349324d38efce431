-- A repository's own git credential: an HTTPS token or an SSH deploy key Oore generated.
-- At most one per repository; it goes with the repository. The secret (the token, or the
-- OpenSSH private key) is AES-GCM sealed with AAD repository_credentials:<id>:secret, `id` being
-- new each time a credential is set. `origin` is the clone URL's scheme, host and port when the
-- credential was set: it is never sent anywhere else, even after the clone URL changes.
CREATE TABLE repository_credentials (
    repository_id TEXT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('https_token', 'ssh_deploy_key')),
    username TEXT,
    public_key TEXT,
    origin TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    created_at TEXT NOT NULL
);
