-- Secret groups get a scope, and fork pull requests get no secrets unless a repository opts in.

ALTER TABLE repositories ADD COLUMN allow_fork_secrets INTEGER NOT NULL DEFAULT 0;

-- One row per group. `repositories` is a JSON list of repository ids that may use the group;
-- an empty list means every repository. Ids are kept as given, so deleting a repository never
-- widens a group's scope to all repositories.
CREATE TABLE secret_groups (
    name TEXT PRIMARY KEY,
    repositories TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

INSERT INTO secret_groups (name, created_at, updated_at)
SELECT group_name, min(created_at), max(updated_at) FROM secrets GROUP BY group_name;
