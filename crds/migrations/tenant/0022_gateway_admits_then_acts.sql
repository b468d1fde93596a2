-- The gateway's functions, hardened after review (0021 shipped with the first version):
-- - `gateway.admit` counts a request against its tenant's limit in a statement of its own, so a
--   request that fails later is counted too (in 0021 its rollback took the count back);
-- - every function runs under a lock and a statement timeout, so a tenant holding a lock on its
--   own table cannot hold the gateway's shared connections;
-- - answers are bounded: an input or result over 64 KiB is replaced by {"truncated": true};
-- - the functions' own refusals carry SQLSTATE OC400, the only messages the gateway forwards;
-- - signal kinds are checked by the function, so a missing kind is a refusal, not an error.
DROP FUNCTION gateway.queue_task(text, text, jsonb, integer);
DROP FUNCTION gateway.get_task(text, bigint, integer);
DROP FUNCTION gateway.list_tasks(text, text, bigint, integer, integer);
DROP FUNCTION gateway.add_signals(text, jsonb, integer);
DROP FUNCTION gateway.authorize(text, integer);

-- The tenant (its database name) and token id of a live token. SQLSTATE 28000 for an unknown or
-- revoked token.
CREATE FUNCTION gateway.authorize(token text, OUT db_name text, OUT token_id bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  SELECT t.db_name, t.id INTO authorize.db_name, authorize.token_id FROM gateway.tokens t
   WHERE t.token_hash = sha256(convert_to(coalesce(token, ''), 'UTF8')) AND t.revoked_at IS NULL;
  IF authorize.db_name IS NULL OR to_regnamespace(quote_ident(authorize.db_name)) IS NULL THEN
    RAISE EXCEPTION 'unknown or revoked token' USING ERRCODE = '28000';
  END IF;
END $$;
REVOKE ALL ON FUNCTION gateway.authorize(text) FROM PUBLIC;

-- Counts one request against the token's tenant's limit, in a statement of its own (so a request
-- that fails later is counted too). 28000 for a bad token, 53400 past the limit.
CREATE FUNCTION gateway.admit(token text, limit_per_minute integer) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  who record;
  used integer;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  INSERT INTO gateway.rate AS r VALUES (who.db_name, date_trunc('minute', now()), 1)
    ON CONFLICT (db_name, minute) DO UPDATE SET n = r.n + 1 RETURNING r.n INTO used;
  DELETE FROM gateway.rate r WHERE r.db_name = who.db_name
    AND r.minute < date_trunc('minute', now()) - interval '1 minute';
  IF used > limit_per_minute THEN
    RAISE EXCEPTION 'rate limit: % requests per minute', limit_per_minute USING ERRCODE = '53400';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION gateway.task_json(schema_name text, task_id bigint) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  out jsonb;
BEGIN
  EXECUTE format(
    'SELECT jsonb_build_object(''id'', id, ''kind'', kind, ''status'', status, '
    '''input'', CASE WHEN octet_length(input::text) > 65536 THEN ''{"truncated": true}'' ELSE input END, '
    '''result'', CASE WHEN octet_length(result::text) > 65536 THEN ''{"truncated": true}'' ELSE result END, '
    '''error'', left(error, 2000), ''attempts'', attempts, ''schedule'', schedule, '
    '''createdAt'', created_at, ''updatedAt'', updated_at) FROM %I.tasks WHERE id = $1',
    schema_name) INTO out USING task_id;
  RETURN out;
END $$;
REVOKE ALL ON FUNCTION gateway.task_json(text, bigint) FROM PUBLIC;

-- Queues a task for the token's tenant. OC400 (ours: its message is shown) for a bad kind or input.
CREATE FUNCTION gateway.queue_task(token text, kind text, input jsonb)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '10s' AS $$
DECLARE
  who record;
  task_id bigint;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  IF kind IS NULL OR kind NOT IN ('butler', 'scout', 'strategist') THEN
    RAISE EXCEPTION 'kind must be butler, scout or strategist' USING ERRCODE = 'OC400';
  END IF;
  IF input IS NULL OR jsonb_typeof(input) <> 'object' OR octet_length(input::text) > 16384 THEN
    RAISE EXCEPTION 'input must be a JSON object of at most 16 KiB' USING ERRCODE = 'OC400';
  END IF;
  EXECUTE format('INSERT INTO %I.tasks (kind, input) VALUES ($1, $2) RETURNING id', who.db_name)
    INTO task_id USING kind, input;
  INSERT INTO gateway.audit (db_name, token_id, action, detail)
    VALUES (who.db_name, who.token_id, 'task.create', jsonb_build_object('task', task_id, 'kind', kind));
  RETURN gateway.task_json(who.db_name, task_id);
END $$;

-- One task of the token's tenant, or NULL: another tenant's id is simply not found.
CREATE FUNCTION gateway.get_task(token text, task_id bigint)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '10s' AS $$
DECLARE
  who record;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  RETURN gateway.task_json(who.db_name, task_id);
END $$;

-- A page of the token's tenant's tasks, oldest first, after id `after`, of at most `page` (1..100).
CREATE FUNCTION gateway.list_tasks(token text, status text, after bigint, page integer)
  RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '10s' AS $$
DECLARE
  who record;
  out jsonb;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  IF status IS NOT NULL AND status NOT IN ('queued', 'running', 'done', 'failed', 'dead') THEN
    RAISE EXCEPTION 'status must be queued, running, done, failed or dead' USING ERRCODE = 'OC400';
  END IF;
  IF page IS NULL OR page NOT BETWEEN 1 AND 100 THEN
    RAISE EXCEPTION 'limit must be 1 to 100' USING ERRCODE = 'OC400';
  END IF;
  EXECUTE format(
    'SELECT coalesce(jsonb_agg(gateway.task_json(%L, id) ORDER BY id), ''[]'') FROM '
    '(SELECT id FROM %I.tasks WHERE ($1::text IS NULL OR status = $1) AND id > $2 '
    'ORDER BY id LIMIT $3) page', who.db_name, who.db_name)
    INTO out USING status, coalesce(after, 0), page;
  RETURN out;
END $$;

-- Appends intent signals for Scout: at most 500 per call, each {account, kind, weight?, detail?}.
CREATE FUNCTION gateway.add_signals(token text, signals jsonb)
  RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '10s' AS $$
DECLARE
  who record;
  n integer;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  IF signals IS NULL OR jsonb_typeof(signals) <> 'array' OR jsonb_array_length(signals) NOT BETWEEN 1 AND 500
     OR EXISTS (SELECT 1 FROM jsonb_array_elements(signals) e WHERE jsonb_typeof(e) <> 'object'
                OR jsonb_typeof(e->'account') IS DISTINCT FROM 'string'
                OR length(e->>'account') NOT BETWEEN 1 AND 200
                OR (e->>'kind') IS NULL OR (e->>'kind') NOT IN ('visit', 'hiring', 'funding', 'content')
                OR (e ? 'weight' AND jsonb_typeof(e->'weight') <> 'number')
                OR (e ? 'detail' AND (jsonb_typeof(e->'detail') <> 'string' OR length(e->>'detail') > 1000)))
  THEN
    RAISE EXCEPTION 'signals must be 1 to 500 objects {account, kind (visit, hiring, funding or content), weight?, detail?}'
      USING ERRCODE = 'OC400';
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

REVOKE ALL ON FUNCTION gateway.admit(text, integer), gateway.queue_task(text, text, jsonb),
  gateway.get_task(text, bigint), gateway.list_tasks(text, text, bigint, integer),
  gateway.add_signals(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway.admit(text, integer), gateway.queue_task(text, text, jsonb),
  gateway.get_task(text, bigint), gateway.list_tasks(text, text, bigint, integer),
  gateway.add_signals(text, jsonb) TO openclaw_gateway;
