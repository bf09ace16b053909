-- Names compare exactly, byte by byte (code point order in UTF-8), as on the
-- other backends, whatever the database's locale: the unique index and
-- ORDER BY name follow the column's collation. 0001 made it "C" already, so
-- this changes a column only where someone changed it since; there the
-- engines must be restarted, as PostgreSQL refuses to run their statements
-- prepared against the old collation. No line inside the block ends with a
-- semicolon: the migration runner splits statements there.
DO $$
BEGIN
    IF (SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
        WHERE a.attrelid = 'movies'::regclass AND a.attname = 'name') IS DISTINCT FROM 'C' THEN
        ALTER TABLE movies ALTER COLUMN name TYPE VARCHAR(255) COLLATE "C"; END IF; END
$$;
