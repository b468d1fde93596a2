-- Tenants reach the tenant database through the tenant group, granted once here (a CONNECT grant
-- per tenant rewrote the database's ACL row on every onboarding, and concurrent onboardings failed
-- with "tuple concurrently updated"). Other logins of the server do not connect at all.
DO $$
BEGIN
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO openclaw_tenant', current_database());
END $$;
