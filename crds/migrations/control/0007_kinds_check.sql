-- The inventory accepts exactly the operator's one list of kinds (operator/src/kind.rs,
-- `Kind::ALL`); a test compares the two, so a new kind cannot fail here after its AWS write.
ALTER TABLE openclaw.managed_resources
  DROP CONSTRAINT managed_resource_kind_known,
  ADD CONSTRAINT managed_resource_kind_known CHECK (kind IN (
    'secret', 'pg_role', 'pg_schema', 'iam_role', 'iam_inline_policy', 'task_definition',
    'ecs_service', 'pg_rls'));
