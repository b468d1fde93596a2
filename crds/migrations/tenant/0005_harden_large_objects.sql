-- Large objects are a side channel every role can use by default (create, write, read by oid).
-- Tenant roles get no large-object functions; the operator does not use them either.
-- Only the functions' owner (a superuser) may revoke them: where the operator is not one (RDS's
-- master user), this step is skipped, and the gap is in SECURITY.md.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    REVOKE EXECUTE ON FUNCTION
      lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea), lo_put(oid, bigint, bytea),
      lo_open(oid, integer), lo_get(oid), lo_get(oid, bigint, integer), lo_unlink(oid),
      lo_import(text), lo_import(text, oid), lo_export(oid, text)
    FROM PUBLIC;
  END IF;
END $$;
