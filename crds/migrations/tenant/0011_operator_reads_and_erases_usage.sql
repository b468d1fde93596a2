-- FORCE ROW LEVEL SECURITY binds the table's owner, and the operator (RDS's master user) has no
-- BYPASSRLS: without a policy of its own it would see no usage row (cost) and delete none
-- (erasure). The policy names the role that runs the migrations, the operator.
DO $$
BEGIN
  EXECUTE format(
    'CREATE POLICY operator_all ON shared.usage TO %I USING (true) WITH CHECK (true)',
    current_user);
END $$;
