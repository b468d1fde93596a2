-- Tenants' roles have opaque names now (control migration 0014), so the session's tenant is its
-- database user itself, not a tenant name spelled out of it: shared.usage.tenant holds the
-- tenant's database name, and the operator maps it to the tenant through the control store.
-- session_user cannot be changed by SET ROLE (only a superuser may SET SESSION AUTHORIZATION),
-- and only names in the tenant format count: any other role's session has no tenant (NULL).
CREATE OR REPLACE FUNCTION shared.session_tenant() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN session_user::text COLLATE "C"
                   ~ '^(t[0-9a-f]{32}|tenant_[a-z][a-z0-9_]{1,30}[a-z0-9])$'
              THEN session_user::text END
$$;

-- Rows written so far name their tenant ('acme-corp'); each such tenant keeps its legacy
-- database name ('tenant_acme_corp').
UPDATE shared.usage SET tenant = 'tenant_' || replace(tenant, '-', '_')
  WHERE tenant COLLATE "C" ~ '^[a-z][a-z0-9-]{1,30}[a-z0-9]$';
