-- What build execution needs beyond the initial schema.

ALTER TABLE builds ADD COLUMN project_build_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
ALTER TABLE builds ADD COLUMN extra_env TEXT NOT NULL DEFAULT '{}';
ALTER TABLE builds ADD COLUMN workspace TEXT;
ALTER TABLE builds ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;

CREATE INDEX builds_workflow ON builds (repository_id, workflow, id);

ALTER TABLE steps ADD COLUMN kind TEXT NOT NULL DEFAULT 'script';
ALTER TABLE steps ADD COLUMN error TEXT;

-- Lookups compare owner and name without case (as GitHub and GitLab do); so must uniqueness.
CREATE UNIQUE INDEX repositories_name_nocase ON repositories (provider, lower(owner), lower(name));
