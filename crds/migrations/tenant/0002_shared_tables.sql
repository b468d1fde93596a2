-- Shared tables that every tenant's agents write to, guarded by row-level security keyed on
-- session_user (which SET ROLE cannot change), with FORCE so that even the table owner is bound.
-- Tenant roles reach them only through the group role openclaw_tenant.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'openclaw_tenant') THEN
    CREATE ROLE openclaw_tenant NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END $$;

-- Nobody creates objects in public (PostgreSQL 15 already revokes this; older servers do not).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS shared;
REVOKE ALL ON SCHEMA shared FROM PUBLIC;
GRANT USAGE ON SCHEMA shared TO openclaw_tenant;

-- The tenant a session belongs to: derived from session_user (tenant_acme_corp -> acme-corp),
-- NULL for any other role. Tenant names never contain '_', so the mapping is exact.
CREATE FUNCTION shared.session_tenant() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN session_user::text LIKE 'tenant\_%'
              THEN replace(substr(session_user::text, 8), '_', '-') END
$$;
REVOKE ALL ON FUNCTION shared.session_tenant() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shared.session_tenant() TO openclaw_tenant;

-- Bedrock usage, written by agents: each may append and read only its own tenant's rows.
CREATE TABLE shared.usage (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant        text NOT NULL DEFAULT shared.session_tenant(),
  agent         text NOT NULL CONSTRAINT usage_agent_known CHECK (agent IN ('butler', 'scout', 'strategist')),
  model         text NOT NULL,
  input_tokens  bigint NOT NULL CONSTRAINT usage_input_tokens_nonneg CHECK (input_tokens >= 0),
  output_tokens bigint NOT NULL CONSTRAINT usage_output_tokens_nonneg CHECK (output_tokens >= 0),
  latency_ms    bigint NOT NULL CONSTRAINT usage_latency_nonneg CHECK (latency_ms >= 0),
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_tenant_at ON shared.usage (tenant, at);
ALTER TABLE shared.usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON shared.usage
  USING (tenant = shared.session_tenant())
  WITH CHECK (tenant = shared.session_tenant());
GRANT SELECT, INSERT ON shared.usage TO openclaw_tenant;
