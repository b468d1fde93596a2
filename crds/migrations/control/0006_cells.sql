-- What the operator last discovered about each cell's database (RDS DescribeDBInstances /
-- DescribeDBClusters) and whether it is compliant.
CREATE TABLE openclaw.cells (
  name        text NOT NULL PRIMARY KEY,
  details     jsonb NOT NULL DEFAULT '{}',
  phase       text NOT NULL DEFAULT 'Ready'
              CONSTRAINT cell_phase_known CHECK (phase IN ('Ready', 'Degraded')),
  reasons     text[] NOT NULL DEFAULT '{}',
  checked_at  timestamptz NOT NULL DEFAULT now()
);
