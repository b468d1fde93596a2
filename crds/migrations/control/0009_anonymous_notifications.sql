-- Notifications name no tenant. Every session of the database may LISTEN on any channel, so a
-- payload with the tenant's name told any tenant which other customers exist and when they
-- change. The operator no longer trusts a payload either (any session may NOTIFY): on a
-- notification it looks up which tenants need work.
CREATE OR REPLACE FUNCTION openclaw.notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.generation = OLD.generation
       AND NEW.deletion_requested_at IS NOT DISTINCT FROM OLD.deletion_requested_at THEN
      RETURN NULL;
    END IF;
  END IF;
  PERFORM pg_notify('openclaw_tenants', '');
  RETURN NULL;
END $$;
