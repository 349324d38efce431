-- Notifications (issue 13): the durable outbox of deliveries, the Slack/SMTP settings, the signed
-- webhook targets, and what each build's workflow asked to be told (builds.notify).
-- Sealed columns are AES-GCM with AAD "<table>:<id>:<column>" (see oore.crypto.aad).

-- The initial schema's placeholder, never written: `deliveries` replaces it.
DROP TABLE notification_outbox;

-- One row per message to send, written in the same transaction as the build change it reports,
-- so a crash loses none. `build_id` is no foreign key: a delivery may outlive its build's rows.
-- `chain` is build:kind:target; within a chain, rows are sent in id order (ULIDs sort by time).
-- A replayed change adds nothing: the idempotency key (chain:event) is unique.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    build_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    chain TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    ref TEXT,
    created_at TEXT NOT NULL,
    -- Where the maximum age counts from: creation, or the latest resend.
    retry_since TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_chain ON deliveries (chain, id);
CREATE INDEX deliveries_build ON deliveries (build_id, id);

-- One row per channel kind ('slack', 'smtp'): non-secret config as JSON, the secret (Slack
-- webhook URL or bot token; SMTP password) sealed with AAD notification_settings:<kind>:secret.
CREATE TABLE notification_settings (
    kind TEXT PRIMARY KEY,
    config TEXT NOT NULL DEFAULT '{}',
    secret_sealed BLOB,
    updated_at TEXT NOT NULL
);

-- Signed webhooks: for one repository, or every repository (repository_id NULL). The secret is
-- sealed with AAD notification_targets:<id>:secret. `events` is a JSON list; [] = every event.
CREATE TABLE notification_targets (
    id TEXT PRIMARY KEY,
    repository_id TEXT REFERENCES repositories (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    events TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);
CREATE INDEX notification_targets_repository ON notification_targets (repository_id);

-- What the build's workflow asked for in `publishing` (slack channel, email recipients and on
-- which outcomes), copied at creation: a later pipeline change does not alter a build's promises.
ALTER TABLE builds ADD COLUMN notify TEXT NOT NULL DEFAULT '{}';
