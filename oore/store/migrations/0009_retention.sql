-- Retention (issue 15): the janitor removes old builds' logs and artifacts but keeps the build
-- row, so the build list keeps its history and the API can say "log expired" instead of a bare
-- 404. It marks first and removes the files after: a crash in between leaves a build that says
-- "expired" with files still on disk (invisible, finished by the next sweep), never a build that
-- claims a log it half lost.
ALTER TABLE builds ADD COLUMN log_expired_at TEXT;
ALTER TABLE builds ADD COLUMN artifacts_expired_at TEXT;
-- 1 from the marking until the files are gone: the next sweep finishes what a crash left.
ALTER TABLE builds ADD COLUMN expiry_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX builds_expiry_pending ON builds (id) WHERE expiry_pending = 1;
-- Deleting an old webhook event sets its builds' event_id to NULL: without an index on the
-- column, each deleted event would scan every build.
CREATE INDEX builds_event ON builds (event_id);
