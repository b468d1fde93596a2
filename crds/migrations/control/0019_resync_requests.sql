-- `openclaw resync` while a leader runs: the CLI asks, the leader runs the pass and answers here,
-- so no tenant ever has two actors. The lease says who leads; a request names its lease.
CREATE TABLE openclaw.resync_requests (
  id            bigserial PRIMARY KEY,
  lease         text NOT NULL,
  requested_by  text NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  started_by    text,
  started_at    timestamptz,
  finished_at   timestamptz,
  report        jsonb,
  error         text
);
CREATE INDEX resync_requests_open ON openclaw.resync_requests (lease, id) WHERE started_at IS NULL;
