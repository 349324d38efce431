-- A usable build list (issue 15): workflows an event did not run are recorded on the event, not
-- as one skipped build each, and a build cancelled by `cancel_previous_builds` names the newer
-- build that cancelled it.

-- [{"workflow": "ios", "matched": false, "reason": "branch 'x' not matched by branch_patterns"}]
-- for each workflow of the pipeline file; NULL for an event not planned (yet, or ever).
ALTER TABLE webhook_events ADD COLUMN workflows TEXT;

-- The build that superseded this one (same repository, workflow and branch or pull request),
-- and its number, so that a listing names it without a second query. No foreign key: the newer
-- build may be deleted before the older one.
ALTER TABLE builds ADD COLUMN cancelled_by TEXT;
ALTER TABLE builds ADD COLUMN cancelled_by_number INTEGER;
