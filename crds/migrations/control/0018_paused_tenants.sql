-- Observe-only tenants (spec.paused): the operator reads and reports, and changes nothing.
-- Pausing and unpausing are spec changes: they bump generation, so the operator hears of them.
ALTER TABLE openclaw.tenants ADD COLUMN paused boolean NOT NULL DEFAULT false;

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
  IF (NEW.display_name, NEW.region, NEW.tier, NEW.paused)
     IS DISTINCT FROM (OLD.display_name, OLD.region, OLD.tier, OLD.paused) THEN
    NEW.generation := OLD.generation + 1;
    NEW.updated_at := now();
  END IF;
  IF NEW.deletion_requested_at IS NOT NULL AND OLD.deletion_requested_at IS NULL THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

-- A paused tenant's phase says so.
ALTER TABLE openclaw.tenants
  DROP CONSTRAINT tenant_phase_known,
  ADD CONSTRAINT tenant_phase_known
    CHECK (phase IN ('Pending', 'Provisioning', 'Ready', 'Degraded', 'Failed', 'Deleting', 'Paused'));
