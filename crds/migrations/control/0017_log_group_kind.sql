-- A new kind, the agents' CloudWatch log groups (operator/src/kind.rs, `Kind::ALL`).
ALTER TABLE openclaw.managed_resources
  DROP CONSTRAINT managed_resource_kind_known,
  ADD CONSTRAINT managed_resource_kind_known CHECK (kind IN (
    'secret', 'pg_role', 'pg_schema', 'iam_role', 'iam_inline_policy', 'task_definition',
    'ecs_service', 'pg_rls', 'tenant_objects', 'log_group'));
