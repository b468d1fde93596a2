-- The desired-state store: OpenClaw's "API server" (DESIGN.md §3).
-- Spec columns are the user's; status columns are the operator's.
-- Every CHECK constraint is named after the validation rule it mirrors (crds/src/validate.rs).

CREATE SCHEMA IF NOT EXISTS openclaw;
REVOKE ALL ON SCHEMA openclaw FROM PUBLIC;

-- Fargate CPU/memory pairs (crds/src/fargate.rs holds the same table).
CREATE FUNCTION openclaw.fargate_size_valid(cpu integer, memory integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE cpu
    WHEN 256   THEN memory IN (512, 1024, 2048)
    WHEN 512   THEN memory BETWEEN 1024  AND 4096   AND memory % 1024 = 0
    WHEN 1024  THEN memory BETWEEN 2048  AND 8192   AND memory % 1024 = 0
    WHEN 2048  THEN memory BETWEEN 4096  AND 16384  AND memory % 1024 = 0
    WHEN 4096  THEN memory BETWEEN 8192  AND 30720  AND memory % 1024 = 0
    WHEN 8192  THEN memory BETWEEN 16384 AND 61440  AND memory % 4096 = 0
    WHEN 16384 THEN memory BETWEEN 32768 AND 122880 AND memory % 8192 = 0
    ELSE false
  END
$$;

CREATE TABLE openclaw.tenants (
  -- spec
  name          text NOT NULL PRIMARY KEY
                CONSTRAINT tenant_name_format
                CHECK (name COLLATE "C" ~ '^[a-z][a-z0-9-]{1,30}[a-z0-9]$'),
  display_name  text NOT NULL
                CONSTRAINT tenant_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 128)
                CONSTRAINT tenant_display_name_chars CHECK (display_name !~ '[[:cntrl:]]'),
  region        text NOT NULL
                CONSTRAINT tenant_region_format
                CHECK (region COLLATE "C" ~ '^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$' AND char_length(region) <= 25),
  tier          text NOT NULL DEFAULT 'standard'
                CONSTRAINT tenant_tier_known CHECK (tier IN ('standard', 'premium', 'enterprise')),
  -- bookkeeping
  generation    bigint NOT NULL DEFAULT 1,
  finalizers    text[] NOT NULL DEFAULT '{}',
  deletion_requested_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- status (the operator's)
  phase         text NOT NULL DEFAULT 'Pending'
                CONSTRAINT tenant_phase_known
                CHECK (phase IN ('Pending', 'Provisioning', 'Ready', 'Degraded', 'Failed', 'Deleting')),
  observed_generation bigint NOT NULL DEFAULT 0,
  conditions    jsonb NOT NULL DEFAULT '[]',
  status_message text,
  status_updated_at timestamptz
);

CREATE TABLE openclaw.agents (
  -- spec
  tenant        text NOT NULL REFERENCES openclaw.tenants (name) ON UPDATE RESTRICT ON DELETE CASCADE,
  kind          text NOT NULL
                CONSTRAINT agent_kind_known CHECK (kind IN ('butler', 'scout', 'strategist')),
  model         text NOT NULL
                CONSTRAINT agent_model_format CHECK (model COLLATE "C" ~ '^[a-z0-9][a-z0-9.:-]{2,127}$'),
  desired_count integer NOT NULL DEFAULT 1
                CONSTRAINT agent_desired_count_range CHECK (desired_count BETWEEN 0 AND 10),
  cpu           integer NOT NULL DEFAULT 256,
  memory        integer NOT NULL DEFAULT 512,
  image         text
                CONSTRAINT agent_image_format CHECK (image COLLATE "C" ~ '^[a-z0-9][A-Za-z0-9./:@_-]{0,254}$'),
  integrations  text[] NOT NULL DEFAULT '{}'
                CONSTRAINT agent_integrations_known
                CHECK (integrations <@ ARRAY['gmail', 'calendar', 'hubspot', 'salesforce']::text[]
                       AND array_position(integrations, NULL) IS NULL),
  CONSTRAINT agent_cpu_memory_fargate CHECK (openclaw.fargate_size_valid(cpu, memory)),
  -- Judges known integrations only; unknown ones are agent_integrations_known's to report.
  CONSTRAINT agent_integrations_allowed_for_kind CHECK (
    NOT (integrations && CASE kind
      WHEN 'butler'     THEN ARRAY['hubspot', 'salesforce']::text[]
      WHEN 'strategist' THEN ARRAY['gmail', 'calendar']::text[]
      ELSE ARRAY['gmail', 'calendar', 'hubspot', 'salesforce']::text[]
    END)),
  -- bookkeeping
  generation    bigint NOT NULL DEFAULT 1,
  finalizers    text[] NOT NULL DEFAULT '{}',
  deletion_requested_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- status (the operator's)
  phase         text NOT NULL DEFAULT 'Pending'
                CONSTRAINT agent_phase_known
                CHECK (phase IN ('Pending', 'Provisioning', 'Ready', 'Degraded', 'Failed', 'Deleting')),
  observed_generation bigint NOT NULL DEFAULT 0,
  conditions    jsonb NOT NULL DEFAULT '[]',
  running_count integer,
  status_message text,
  status_updated_at timestamptz,
  -- agent_kind_unique: one agent of each kind per tenant
  CONSTRAINT agent_kind_unique PRIMARY KEY (tenant, kind)
);

-- Spec changes bump generation and NOTIFY; status and bookkeeping changes do neither.
CREATE FUNCTION openclaw.tenants_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name IS DISTINCT FROM OLD.name THEN
    RAISE EXCEPTION 'tenant name is immutable (% -> %)', OLD.name, NEW.name
      USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_name_immutable';
  END IF;
  NEW.generation := OLD.generation;
  IF (NEW.display_name, NEW.region, NEW.tier) IS DISTINCT FROM (OLD.display_name, OLD.region, OLD.tier) THEN
    NEW.generation := OLD.generation + 1;
    NEW.updated_at := now();
  END IF;
  IF NEW.deletion_requested_at IS NOT NULL AND OLD.deletion_requested_at IS NULL THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION openclaw.agents_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.tenant, NEW.kind) IS DISTINCT FROM (OLD.tenant, OLD.kind) THEN
    RAISE EXCEPTION 'an agent''s tenant and kind are immutable'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'agent_identity_immutable';
  END IF;
  NEW.generation := OLD.generation;
  IF (NEW.model, NEW.desired_count, NEW.cpu, NEW.memory, NEW.image, NEW.integrations)
     IS DISTINCT FROM (OLD.model, OLD.desired_count, OLD.cpu, OLD.memory, OLD.image, OLD.integrations) THEN
    NEW.generation := OLD.generation + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION openclaw.before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Bookkeeping starts clean whatever the INSERT said; only the operator sets it later.
  NEW.generation := 1;
  NEW.observed_generation := 0;
  NEW.phase := 'Pending';
  NEW.deletion_requested_at := NULL;
  RETURN NEW;
END $$;

CREATE TRIGGER tenants_before_insert BEFORE INSERT ON openclaw.tenants
  FOR EACH ROW EXECUTE FUNCTION openclaw.before_insert();
CREATE TRIGGER agents_before_insert BEFORE INSERT ON openclaw.agents
  FOR EACH ROW EXECUTE FUNCTION openclaw.before_insert();
CREATE TRIGGER tenants_before_update BEFORE UPDATE ON openclaw.tenants
  FOR EACH ROW EXECUTE FUNCTION openclaw.tenants_before_update();
CREATE TRIGGER agents_before_update BEFORE UPDATE ON openclaw.agents
  FOR EACH ROW EXECUTE FUNCTION openclaw.agents_before_update();

-- Finalizers: a DELETE of a row that still holds finalizers only marks it for deletion. The row
-- goes when the operator removes the last finalizer (after-update trigger below).
CREATE FUNCTION openclaw.tenants_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(OLD.finalizers) > 0 THEN
    UPDATE openclaw.tenants SET deletion_requested_at = coalesce(deletion_requested_at, now())
      WHERE name = OLD.name;
    UPDATE openclaw.agents SET deletion_requested_at = coalesce(deletion_requested_at, now())
      WHERE tenant = OLD.name;
    RETURN NULL;
  END IF;
  RETURN OLD;
END $$;

CREATE FUNCTION openclaw.agents_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A cascade from a tenant row that has no finalizers left means its teardown is finished.
  IF cardinality(OLD.finalizers) > 0 AND pg_trigger_depth() = 1 THEN
    UPDATE openclaw.agents SET deletion_requested_at = coalesce(deletion_requested_at, now())
      WHERE tenant = OLD.tenant AND kind = OLD.kind;
    RETURN NULL;
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER tenants_before_delete BEFORE DELETE ON openclaw.tenants
  FOR EACH ROW EXECUTE FUNCTION openclaw.tenants_before_delete();
CREATE TRIGGER agents_before_delete BEFORE DELETE ON openclaw.agents
  FOR EACH ROW EXECUTE FUNCTION openclaw.agents_before_delete();

CREATE FUNCTION openclaw.tenants_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deletion_requested_at IS NOT NULL AND cardinality(NEW.finalizers) = 0 THEN
    DELETE FROM openclaw.tenants WHERE name = NEW.name;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION openclaw.agents_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deletion_requested_at IS NOT NULL AND cardinality(NEW.finalizers) = 0 THEN
    DELETE FROM openclaw.agents WHERE tenant = NEW.tenant AND kind = NEW.kind;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER tenants_after_update AFTER UPDATE OF finalizers, deletion_requested_at ON openclaw.tenants
  FOR EACH ROW EXECUTE FUNCTION openclaw.tenants_after_update();
CREATE TRIGGER agents_after_update AFTER UPDATE OF finalizers, deletion_requested_at ON openclaw.agents
  FOR EACH ROW EXECUTE FUNCTION openclaw.agents_after_update();

-- Watch: NOTIFY 'openclaw_tenants' with the tenant's name on every spec change, insert and
-- deletion request. The operator also polls, since NOTIFY is lost across reconnects.
CREATE FUNCTION openclaw.notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  IF TG_TABLE_NAME = 'tenants' THEN
    t := coalesce(NEW.name, OLD.name);
  ELSE
    t := coalesce(NEW.tenant, OLD.tenant);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.generation = OLD.generation
       AND NEW.deletion_requested_at IS NOT DISTINCT FROM OLD.deletion_requested_at THEN
      RETURN NULL;
    END IF;
  END IF;
  PERFORM pg_notify('openclaw_tenants', t);
  RETURN NULL;
END $$;

CREATE TRIGGER tenants_notify AFTER INSERT OR UPDATE OR DELETE ON openclaw.tenants
  FOR EACH ROW EXECUTE FUNCTION openclaw.notify_change();
CREATE TRIGGER agents_notify AFTER INSERT OR UPDATE OR DELETE ON openclaw.agents
  FOR EACH ROW EXECUTE FUNCTION openclaw.notify_change();

-- The operator's inventory of what it created.
CREATE TABLE openclaw.managed_resources (
  tenant        text NOT NULL,
  agent         text,
  kind          text NOT NULL
                CONSTRAINT managed_resource_kind_known CHECK (kind IN (
                  'iam_role', 'iam_inline_policy', 'secret', 'task_definition', 'ecs_service',
                  'pg_schema', 'pg_role')),
  name          text NOT NULL,
  arn           text,
  spec_hash     text,
  last_observed_at timestamptz,
  drift_repairs bigint NOT NULL DEFAULT 0,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name)
);
CREATE INDEX managed_resources_tenant ON openclaw.managed_resources (tenant);

-- Append-only, hash-chained audit log. Each row's hash covers its content and the previous
-- row's hash; `openclaw audit verify` recomputes the chain independently in Rust.
CREATE TABLE openclaw.audit_log (
  seq           bigint NOT NULL PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  tenant        text,
  actor         text NOT NULL,
  action        text NOT NULL,
  resource_kind text,
  resource_name text,
  detail        jsonb NOT NULL DEFAULT '{}',
  prev_hash     bytea NOT NULL,
  hash          bytea NOT NULL
);
CREATE INDEX audit_log_tenant ON openclaw.audit_log (tenant, seq);

-- The exact bytes hashed; crds/src/audit.rs builds the same string.
CREATE FUNCTION openclaw.audit_canonical(
  seq bigint, at timestamptz, tenant text, actor text, action text,
  resource_kind text, resource_name text, detail jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT concat_ws(E'\x1f',
    seq::text,
    ((extract(epoch FROM at) * 1000000)::bigint)::text,
    coalesce(tenant, ''), actor, action,
    coalesce(resource_kind, ''), coalesce(resource_name, ''),
    detail::text)
$$;

CREATE FUNCTION openclaw.audit_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash bytea;
BEGIN
  -- Serialise appends so that the chain order is the commit order.
  PERFORM pg_advisory_xact_lock(hashtext('openclaw.audit_log'));
  SELECT seq, hash INTO last_seq, last_hash FROM openclaw.audit_log ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.at := clock_timestamp();
  NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  NEW.hash := sha256(NEW.prev_hash || convert_to(openclaw.audit_canonical(
    NEW.seq, NEW.at, NEW.tenant, NEW.actor, NEW.action, NEW.resource_kind, NEW.resource_name, NEW.detail), 'UTF8'));
  RETURN NEW;
END $$;

CREATE FUNCTION openclaw.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'openclaw.audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON openclaw.audit_log
  FOR EACH ROW EXECUTE FUNCTION openclaw.audit_before_insert();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON openclaw.audit_log
  FOR EACH ROW EXECUTE FUNCTION openclaw.audit_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON openclaw.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION openclaw.audit_refuse_change();

-- Leader election: one lease row per lease name.
CREATE TABLE openclaw.leases (
  name          text NOT NULL PRIMARY KEY,
  holder        text NOT NULL,
  acquired_at   timestamptz NOT NULL DEFAULT now(),
  renewed_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
