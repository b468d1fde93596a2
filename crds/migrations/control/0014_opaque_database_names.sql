-- Each tenant's name in the tenant database (its login role and its schema): opaque, 't' and 32
-- random hex digits, drawn once per tenant incarnation. Every session of the tenant database can
-- read pg_roles, pg_namespace and the statistics views, so these names must say nothing about who
-- the tenant is. Tenants onboarded before keep their legacy 'tenant_T' (crds/src/naming.rs,
-- DbName); `openclaw audit isolation` reports each of them.
ALTER TABLE openclaw.tenants ADD COLUMN db_name text;
UPDATE openclaw.tenants SET db_name = 'tenant_' || replace(name, '-', '_');
ALTER TABLE openclaw.tenants
  ALTER COLUMN db_name SET DEFAULT ('t' || replace(gen_random_uuid()::text, '-', '')),
  ALTER COLUMN db_name SET NOT NULL,
  ADD CONSTRAINT tenant_db_name_format
    CHECK (db_name COLLATE "C" ~ '^(t[0-9a-f]{32}|tenant_[a-z][a-z0-9_]{1,30}[a-z0-9])$'),
  ADD CONSTRAINT tenant_db_name_unique UNIQUE (db_name);

-- Bookkeeping, like generation: an INSERT cannot choose it (so no new tenant takes over another's
-- role), and nothing changes it afterwards.
CREATE OR REPLACE FUNCTION openclaw.before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Bookkeeping starts clean whatever the INSERT said; only the operator sets it later.
  NEW.generation := 1;
  NEW.observed_generation := 0;
  NEW.phase := 'Pending';
  NEW.deletion_requested_at := NULL;
  IF TG_TABLE_NAME = 'tenants' THEN
    NEW.db_name := 't' || replace(gen_random_uuid()::text, '-', '');
    -- A name whose erasure is under way is not free yet (the primary key would refuse it too,
    -- but without saying why).
    IF EXISTS (SELECT 1 FROM openclaw.tenants WHERE name = NEW.name AND deletion_requested_at IS NOT NULL) THEN
      RAISE EXCEPTION 'tenant % is being deleted: create it again once its erasure is done', NEW.name
        USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_name_being_erased';
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION openclaw.tenants_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name IS DISTINCT FROM OLD.name THEN
    RAISE EXCEPTION 'tenant name is immutable (% -> %)', OLD.name, NEW.name
      USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_name_immutable';
  END IF;
  IF NEW.db_name IS DISTINCT FROM OLD.db_name THEN
    RAISE EXCEPTION 'a tenant''s database name is immutable'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'tenant_db_name_immutable';
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
