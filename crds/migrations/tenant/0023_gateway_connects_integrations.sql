-- Integrations connect through the gateway: the OAuth 2.0 authorization-code flow with PKCE.
-- The gateway's functions below hold the flow's only state: a single-use `state`, kept as its
-- SHA-256, with the PKCE verifier, for ten minutes. Every function needs a secret the caller
-- holds (a live API token, or the state a provider sent back): the gateway's login alone reaches
-- no tenant.

-- The tenant's name, from which its secrets are named. Tokens from before 0023 have none and
-- cannot connect integrations (a new token can).
ALTER TABLE gateway.tokens ADD COLUMN tenant text;

CREATE TABLE gateway.oauth_states (
  state_hash   bytea PRIMARY KEY,
  db_name      text NOT NULL,
  tenant       text NOT NULL,
  token_id     bigint NOT NULL,
  integration  text NOT NULL,
  verifier     text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Set when the provider's callback redeems the state: a state redeems once.
  taken_at     timestamptz
);
CREATE INDEX oauth_states_by_tenant ON gateway.oauth_states (db_name, created_at);

-- The token's tenant's name, for an integration the gateway knows. 28000 for a bad token, OC400
-- for an unknown integration or a token from before 0023.
CREATE FUNCTION gateway.integration_tenant(token text, integration text) RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  who record;
  tenant_name text;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  IF integration IS NULL OR integration NOT IN ('gmail', 'calendar', 'hubspot', 'salesforce') THEN
    RAISE EXCEPTION 'integration must be gmail, calendar, hubspot or salesforce' USING ERRCODE = 'OC400';
  END IF;
  SELECT t.tenant INTO tenant_name FROM gateway.tokens t WHERE t.id = who.token_id;
  IF tenant_name IS NULL THEN
    RAISE EXCEPTION 'this token predates integrations: create a new one with openclaw token create'
      USING ERRCODE = 'OC400';
  END IF;
  RETURN tenant_name;
END $$;

-- Records a consent flow the token's tenant starts. At most 20 unredeemed flows per tenant in
-- ten minutes (53400 past that); expired states are removed here.
CREATE FUNCTION gateway.begin_connect(token text, integration text, state text, verifier text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  who record;
  tenant_name text;
  open_flows integer;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  tenant_name := gateway.integration_tenant(token, integration);
  IF state IS NULL OR length(state) < 32 OR verifier IS NULL OR length(verifier) NOT BETWEEN 43 AND 128 THEN
    RAISE EXCEPTION 'state and verifier must be long random values' USING ERRCODE = 'OC400';
  END IF;
  DELETE FROM gateway.oauth_states s WHERE s.created_at < now() - interval '10 minutes';
  SELECT count(*) INTO open_flows FROM gateway.oauth_states s
   WHERE s.db_name = who.db_name AND s.taken_at IS NULL;
  IF open_flows >= 20 THEN
    RAISE EXCEPTION 'too many consent flows in progress' USING ERRCODE = '53400';
  END IF;
  INSERT INTO gateway.oauth_states (state_hash, db_name, tenant, token_id, integration, verifier)
    VALUES (sha256(convert_to(state, 'UTF8')), who.db_name, tenant_name, who.token_id, integration, verifier);
END $$;

-- Redeems a state the provider sent back to the callback of `integration`: once, within ten
-- minutes, while the token that started the flow is live. OC403 otherwise (forged, replayed,
-- expired, another integration's, or its token revoked).
CREATE FUNCTION gateway.take_state(state text, integration text, OUT tenant text, OUT verifier text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
BEGIN
  UPDATE gateway.oauth_states s SET taken_at = now()
   WHERE s.state_hash = sha256(convert_to(coalesce(state, ''), 'UTF8'))
     AND s.integration = take_state.integration AND s.taken_at IS NULL
     AND s.created_at >= now() - interval '10 minutes'
     AND EXISTS (SELECT 1 FROM gateway.tokens t WHERE t.id = s.token_id AND t.revoked_at IS NULL)
  RETURNING s.tenant, s.verifier INTO take_state.tenant, take_state.verifier;
  IF take_state.tenant IS NULL THEN
    RAISE EXCEPTION 'unknown, used or expired state: start again at connect' USING ERRCODE = 'OC403';
  END IF;
END $$;

-- After the grant is stored: marks the integration `ok` for the state's tenant, with an audit row.
CREATE FUNCTION gateway.finish_connect(state text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  s record;
BEGIN
  DELETE FROM gateway.oauth_states o
   WHERE o.state_hash = sha256(convert_to(coalesce(state, ''), 'UTF8')) AND o.taken_at IS NOT NULL
  RETURNING o.db_name, o.token_id, o.integration INTO s;
  IF s.db_name IS NULL OR to_regnamespace(quote_ident(s.db_name)) IS NULL THEN
    RAISE EXCEPTION 'unknown state' USING ERRCODE = 'OC403';
  END IF;
  EXECUTE format(
    'INSERT INTO %I.integrations (name, state, detail, updated_at) '
    'VALUES ($1, ''ok'', ''connected through the gateway'', now()) '
    'ON CONFLICT (name) DO UPDATE SET state = excluded.state, detail = excluded.detail, '
    'updated_at = excluded.updated_at', s.db_name) USING s.integration;
  INSERT INTO gateway.audit (db_name, token_id, action, detail)
    VALUES (s.db_name, s.token_id, 'integration.connect', jsonb_build_object('integration', s.integration));
END $$;

-- After the grant is cleared: marks the integration as needing consent, with an audit row.
CREATE FUNCTION gateway.disconnect(token text, integration text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  who record;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  PERFORM gateway.integration_tenant(token, integration);
  EXECUTE format(
    'INSERT INTO %I.integrations (name, state, detail, updated_at) '
    'VALUES ($1, ''needs_consent'', ''disconnected through the gateway'', now()) '
    'ON CONFLICT (name) DO UPDATE SET state = excluded.state, detail = excluded.detail, '
    'updated_at = excluded.updated_at', who.db_name) USING integration;
  INSERT INTO gateway.audit (db_name, token_id, action, detail)
    VALUES (who.db_name, who.token_id, 'integration.disconnect', jsonb_build_object('integration', integration));
END $$;

-- The token's tenant's integrations and their states.
CREATE FUNCTION gateway.list_integrations(token text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  SET lock_timeout = '2s' SET statement_timeout = '5s' AS $$
DECLARE
  who record;
  out jsonb;
BEGIN
  SELECT * INTO who FROM gateway.authorize(token);
  EXECUTE format(
    'SELECT coalesce(jsonb_agg(jsonb_build_object(''name'', name, ''state'', state, '
    '''detail'', left(detail, 500), ''updatedAt'', updated_at) ORDER BY name), ''[]'') '
    'FROM %I.integrations', who.db_name) INTO out;
  RETURN out;
END $$;

REVOKE ALL ON FUNCTION gateway.integration_tenant(text, text),
  gateway.begin_connect(text, text, text, text), gateway.take_state(text, text),
  gateway.finish_connect(text), gateway.disconnect(text, text),
  gateway.list_integrations(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway.integration_tenant(text, text),
  gateway.begin_connect(text, text, text, text), gateway.take_state(text, text),
  gateway.finish_connect(text), gateway.disconnect(text, text),
  gateway.list_integrations(text) TO openclaw_gateway;
