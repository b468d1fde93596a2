-- Tenants reach the tenant database through the tenant group, granted once here (a CONNECT grant
-- per tenant rewrote the database's ACL row on every onboarding, and concurrent onboardings failed
-- with "tuple concurrently updated"). Other logins of the server do not connect at all, and no
-- tenant makes temporary tables (PUBLIC's TEMPORARY goes too).
DO $$
BEGIN
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO openclaw_tenant', current_database());
END $$;
