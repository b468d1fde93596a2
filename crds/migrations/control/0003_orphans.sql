-- Orphans: resources with OpenClaw's tags whose tenant has no row. The resync records when it
-- first saw each one and removes it after a grace period; the record survives restarts and
-- leader changes.
CREATE TABLE openclaw.orphans (
  kind        text NOT NULL,
  name        text NOT NULL,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name)
);
