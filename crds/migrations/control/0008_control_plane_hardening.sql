-- Nothing a tenant's session can lock or steer.
--
-- Rewritten when the store split in two: the CONNECT grant to the tenant group that ended this
-- migration now belongs to the tenant database (tenant/0013).
--
-- The audit chain serialised on an advisory lock, and any session of the database can take any
-- advisory key: a tenant holding it stalled every audited write of the operator. Appends now
-- serialise on a row of a control table that tenant roles cannot read, let alone lock.
CREATE TABLE openclaw.audit_append_lock (
  id boolean PRIMARY KEY DEFAULT true CONSTRAINT audit_append_lock_one_row CHECK (id)
);
INSERT INTO openclaw.audit_append_lock VALUES (true);
REVOKE ALL ON openclaw.audit_append_lock FROM PUBLIC;

CREATE OR REPLACE FUNCTION openclaw.audit_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash bytea;
BEGIN
  -- Serialise appends so that the chain order is the commit order.
  PERFORM 1 FROM openclaw.audit_append_lock FOR UPDATE;
  SELECT seq, hash INTO last_seq, last_hash FROM openclaw.audit_log ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.at := clock_timestamp();
  NEW.prev_hash := coalesce(last_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  NEW.hash := sha256(NEW.prev_hash || convert_to(openclaw.audit_canonical(
    NEW.seq, NEW.at, NEW.tenant, NEW.actor, NEW.action, NEW.resource_kind, NEW.resource_name, NEW.detail), 'UTF8'));
  RETURN NEW;
END $$;
