-- Fargate usage per tenant and hour, accrued by the leader from each agent's running tasks times
-- its task size. Bedrock usage is in shared.usage (written by the agents).
CREATE TABLE openclaw.fargate_usage (
  tenant        text NOT NULL,
  hour          timestamptz NOT NULL,
  vcpu_seconds  double precision NOT NULL DEFAULT 0 CONSTRAINT fargate_vcpu_nonneg CHECK (vcpu_seconds >= 0),
  gb_seconds    double precision NOT NULL DEFAULT 0 CONSTRAINT fargate_gb_nonneg CHECK (gb_seconds >= 0),
  PRIMARY KEY (tenant, hour)
);
