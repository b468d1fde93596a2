-- Agent schedules (spec.schedules): each a name, a five-field cron pattern, an IANA time zone and
-- a task input. Each CHECK carries the name of the validation rule it enforces. The store checks
-- the shape; whether a pattern ever matches and whether a zone exists are the Rust rules' (the
-- operator refuses such a row before it renders anything), since the zone database is not
-- PostgreSQL's.
ALTER TABLE openclaw.agents ADD COLUMN schedules jsonb NOT NULL DEFAULT '[]';

-- The elements, or none when `s` is not an array (agent_schedules_count reports that).
CREATE FUNCTION openclaw.schedule_elements(s jsonb) RETURNS SETOF jsonb
  LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT e FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s) = 'array' THEN s ELSE '[]' END) e
$$;

CREATE FUNCTION openclaw.schedules_every(s jsonb, ok text) RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  e jsonb;
  good boolean;
BEGIN
  FOR e IN SELECT openclaw.schedule_elements(s) LOOP
    IF jsonb_typeof(e) <> 'object' THEN
      RETURN ok <> 'fields';
    END IF;
    good := CASE ok
      WHEN 'fields' THEN
        (SELECT coalesce(bool_and(k IN ('name', 'cron', 'timeZone', 'input')), true)
           FROM jsonb_object_keys(e) k)
      WHEN 'name' THEN
        jsonb_typeof(e->'name') = 'string'
          AND (e->>'name') COLLATE "C" ~ '^[a-z][a-z0-9-]{0,30}[a-z0-9]$'
      WHEN 'cron' THEN
        jsonb_typeof(e->'cron') = 'string'
          AND (e->>'cron') COLLATE "C" ~ '^ *[A-Za-z0-9*/,#?-]+( +[A-Za-z0-9*/,#?-]+){4} *$'
      WHEN 'zone' THEN
        jsonb_typeof(e->'timeZone') = 'string' AND length(e->>'timeZone') <= 64
          AND (e->>'timeZone') COLLATE "C" ~ '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$'
      -- Twice the Rust rule's 1,024 bytes: jsonb prints spaces the Rust rule does not count, so
      -- the store never refuses an input `apply` takes; the Rust rule is the exact one.
      WHEN 'input' THEN
        NOT e ? 'input'
          OR (jsonb_typeof(e->'input') = 'object' AND octet_length((e->'input')::text) <= 2048)
      END;
    IF NOT coalesce(good, false) THEN
      RETURN false;
    END IF;
  END LOOP;
  RETURN true;
END $$;

CREATE FUNCTION openclaw.schedule_names_unique(s jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT count(e->>'name') = count(DISTINCT e->>'name') FROM openclaw.schedule_elements(s) e
$$;

ALTER TABLE openclaw.agents
  ADD CONSTRAINT agent_schedules_count CHECK (
    CASE WHEN jsonb_typeof(schedules) = 'array' THEN jsonb_array_length(schedules) <= 10
    ELSE false END),
  ADD CONSTRAINT agent_schedule_fields_known CHECK (openclaw.schedules_every(schedules, 'fields')),
  ADD CONSTRAINT agent_schedule_name_format CHECK (openclaw.schedules_every(schedules, 'name')),
  ADD CONSTRAINT agent_schedule_name_unique CHECK (openclaw.schedule_names_unique(schedules)),
  ADD CONSTRAINT agent_schedule_cron_valid CHECK (openclaw.schedules_every(schedules, 'cron')),
  ADD CONSTRAINT agent_schedule_time_zone_known CHECK (openclaw.schedules_every(schedules, 'zone')),
  ADD CONSTRAINT agent_schedule_input_object CHECK (openclaw.schedules_every(schedules, 'input'));

-- A schedule change is a spec change: it bumps generation, so the operator renders it.
CREATE OR REPLACE FUNCTION openclaw.agents_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.tenant, NEW.kind) IS DISTINCT FROM (OLD.tenant, OLD.kind) THEN
    RAISE EXCEPTION 'an agent''s tenant and kind are immutable'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'agent_identity_immutable';
  END IF;
  NEW.generation := OLD.generation;
  IF (NEW.model, NEW.desired_count, NEW.cpu, NEW.memory, NEW.image, NEW.integrations, NEW.schedules)
     IS DISTINCT FROM
     (OLD.model, OLD.desired_count, OLD.cpu, OLD.memory, OLD.image, OLD.integrations, OLD.schedules) THEN
    NEW.generation := OLD.generation + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
