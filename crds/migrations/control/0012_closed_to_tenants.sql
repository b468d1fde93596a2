-- The control store is the operator's alone. Every database grants CONNECT to PUBLIC when it is
-- created, so any tenant login on the same server could open it, LISTEN to its channel, lock its
-- rows and read its catalog. Only the owner (the operator) and superusers connect now.
DO $$
BEGIN
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'openclaw_tenant') THEN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM openclaw_tenant', current_database());
  END IF;
END $$;
