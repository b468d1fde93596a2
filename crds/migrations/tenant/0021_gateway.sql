-- The tenant gateway's only door into the tenant database: schema `gateway`, owned by the
-- operator. Its login (a member of the group role openclaw_gateway) may only call the functions
-- below, and each one acts for exactly the tenant whose API token it is given. It reads no table,
-- no token, no secret; with its database credentials alone it can reach no tenant's data.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'openclaw_gateway') THEN
    CREATE ROLE openclaw_gateway NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO openclaw_gateway', current_database());
END $$;

CREATE SCHEMA gateway;
REVOKE ALL ON SCHEMA gateway FROM PUBLIC;
GRANT USAGE ON SCHEMA gateway TO openclaw_gateway;

-- A token is stored only as its SHA-256 (tokens are 32 random bytes: no salt is needed).
CREATE TABLE gateway.tokens (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  db_name     text NOT NULL,
  label       text NOT NULL DEFAULT '',
  token_hash  bytea NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX tokens_by_tenant ON gateway.tokens (db_name);

-- One row per mutation through the gateway, by tenant.
CREATE TABLE gateway.audit (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  db_name   text NOT NULL,
  token_id  bigint NOT NULL,
  action    text NOT NULL,
  detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_by_tenant ON gateway.audit (db_name, at);

-- Requests per tenant per minute (every gateway replica counts here).
CREATE TABLE gateway.rate (
  db_name  text NOT NULL,
  minute   timestamptz NOT NULL,
  n        integer NOT NULL,
  PRIMARY KEY (db_name, minute)
);

-- The tenant (its database name) and token id of a live token; counts the request against the
-- tenant's limit. SQLSTATE 28000 for an unknown or revoked token, 53400 past the limit.
CREATE FUNCTION gateway.authorize(token text, limit_per_minute integer DEFAULT 600,
                                  OUT db_name text, OUT token_id bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  used integer;
BEGIN
  SELECT t.db_name, t.id INTO db_name, token_id FROM gateway.tokens t
   WHERE t.token_hash = sha256(convert_to(coalesce(token, ''), 'UTF8')) AND t.revoked_at IS NULL;
  IF authorize.db_name IS NULL OR to_regnamespace(quote_ident(authorize.db_name)) IS NULL THEN
    RAISE EXCEPTION 'unknown or revoked token' USING ERRCODE = '28000';
  END IF;
  INSERT INTO gateway.rate AS r VALUES (authorize.db_name, date_trunc('minute', now()), 1)
    ON CONFLICT (db_name, minute) DO UPDATE SET n = r.n + 1 RETURNING r.n INTO used;
  DELETE FROM gateway.rate r WHERE r.db_name = authorize.db_name
    AND r.minute < date_trunc('minute', now()) - interval '1 minute';
  IF used > limit_per_minute THEN
    RAISE EXCEPTION 'rate limit: % requests per minute', limit_per_minute USING ERRCODE = '53400';
  END IF;
END $$;
REVOKE ALL ON FUNCTION gateway.authorize(text, integer) FROM PUBLIC;

CREATE FUNCTION gateway.task_json(schema_name text, task_id bigint) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  out jsonb;
BEGIN
  EXECUTE format(
    'SELECT jsonb_build_object(''id'', id, ''kind'', kind, ''status'', status, ''input'', input, '
    '''result'', result, ''error'', error, ''attempts'', attempts, ''schedule'', schedule, '
    '''createdAt'', created_at, ''updatedAt'', updated_at) FROM %I.tasks WHERE id = $1',
    schema_name) INTO out USING task_id;
  RETURN out;
END $$;
REVOKE ALL ON FUNCTION gateway.task_json(text, bigint) FROM PUBLIC;

-- Queues a task for the token's tenant. 22023 for a bad kind or input.
CREATE FUNCTION gateway.queue_task(token text, kind text, input jsonb, limit_per_minute integer)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who record;
  task_id bigint;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token, limit_per_minute);
  IF kind IS NULL OR kind NOT IN ('butler', 'scout', 'strategist') THEN
    RAISE EXCEPTION 'kind must be butler, scout or strategist' USING ERRCODE = '22023';
  END IF;
  IF input IS NULL OR jsonb_typeof(input) <> 'object' OR octet_length(input::text) > 16384 THEN
    RAISE EXCEPTION 'input must be a JSON object of at most 16 KiB' USING ERRCODE = '22023';
  END IF;
  EXECUTE format('INSERT INTO %I.tasks (kind, input) VALUES ($1, $2) RETURNING id', who.db_name)
    INTO task_id USING kind, input;
  INSERT INTO gateway.audit (db_name, token_id, action, detail)
    VALUES (who.db_name, who.token_id, 'task.create', jsonb_build_object('task', task_id, 'kind', kind));
  RETURN gateway.task_json(who.db_name, task_id);
END $$;

-- One task of the token's tenant, or NULL: another tenant's id is simply not found.
CREATE FUNCTION gateway.get_task(token text, task_id bigint, limit_per_minute integer)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who record;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token, limit_per_minute);
  RETURN gateway.task_json(who.db_name, task_id);
END $$;

-- A page of the token's tenant's tasks, oldest first, after id `after`, of at most `page` (1..100).
CREATE FUNCTION gateway.list_tasks(token text, status text, after bigint, page integer,
                                   limit_per_minute integer)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who record;
  out jsonb;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token, limit_per_minute);
  IF status IS NOT NULL AND status NOT IN ('queued', 'running', 'done', 'failed', 'dead') THEN
    RAISE EXCEPTION 'status must be queued, running, done, failed or dead' USING ERRCODE = '22023';
  END IF;
  IF page IS NULL OR page NOT BETWEEN 1 AND 100 THEN
    RAISE EXCEPTION 'limit must be 1 to 100' USING ERRCODE = '22023';
  END IF;
  EXECUTE format(
    'SELECT coalesce(jsonb_agg(gateway.task_json(%L, id) ORDER BY id), ''[]'') FROM '
    '(SELECT id FROM %I.tasks WHERE ($1::text IS NULL OR status = $1) AND id > $2 '
    'ORDER BY id LIMIT $3) page', who.db_name, who.db_name)
    INTO out USING status, coalesce(after, 0), page;
  RETURN out;
END $$;

-- Appends intent signals for Scout: at most 500 per call, each {account, kind, weight?, detail?}.
CREATE FUNCTION gateway.add_signals(token text, signals jsonb, limit_per_minute integer)
  RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  who record;
  n integer;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token, limit_per_minute);
  IF signals IS NULL OR jsonb_typeof(signals) <> 'array' OR jsonb_array_length(signals) NOT BETWEEN 1 AND 500
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(signals) e WHERE jsonb_typeof(e) <> 'object'
                OR jsonb_typeof(e->'account') IS DISTINCT FROM 'string'
                OR length(e->>'account') NOT BETWEEN 1 AND 200
                OR (e ? 'weight' AND jsonb_typeof(e->'weight') <> 'number')
                OR (e ? 'detail' AND (jsonb_typeof(e->'detail') <> 'string' OR length(e->>'detail') > 1000)))
  THEN
    RAISE EXCEPTION 'signals must be 1 to 500 objects {account, kind, weight?, detail?}'
      USING ERRCODE = '22023';
  END IF;
  EXECUTE format(
    'INSERT INTO %I.signals (account, kind, weight, detail) '
    'SELECT e->>''account'', e->>''kind'', coalesce((e->>''weight'')::float8, 1), '
    'coalesce(e->>''detail'', '''') FROM jsonb_array_elements($1) e', who.db_name) USING signals;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO gateway.audit (db_name, token_id, action, detail)
    VALUES (who.db_name, who.token_id, 'signals.create', jsonb_build_object('count', n));
  RETURN n;
END $$;

REVOKE ALL ON FUNCTION gateway.queue_task(text, text, jsonb, integer),
  gateway.get_task(text, bigint, integer), gateway.list_tasks(text, text, bigint, integer, integer),
  gateway.add_signals(text, jsonb, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway.queue_task(text, text, jsonb, integer),
  gateway.get_task(text, bigint, integer), gateway.list_tasks(text, text, bigint, integer, integer),
  gateway.add_signals(text, jsonb, integer) TO openclaw_gateway;
