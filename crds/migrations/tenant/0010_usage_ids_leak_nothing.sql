-- Every tenant inserts into shared.usage, and an identity column numbered its rows from one
-- sequence: the gap between two of a tenant's own row ids was every other tenant's volume in
-- between. Row ids are random now.
ALTER TABLE shared.usage ALTER COLUMN id DROP IDENTITY IF EXISTS;
ALTER TABLE shared.usage ALTER COLUMN id TYPE uuid USING gen_random_uuid();
ALTER TABLE shared.usage ALTER COLUMN id SET DEFAULT gen_random_uuid();
