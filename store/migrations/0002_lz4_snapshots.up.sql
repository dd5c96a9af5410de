-- Snapshots are read whole by every Load: lz4 decompresses several times faster
-- than the default pglz (docs/benchmarks-store.md). Servers built without lz4 keep
-- pglz; the migration is then a no-op rather than a failure.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE snapshots ALTER COLUMN content SET COMPRESSION lz4;
        ALTER TABLE ops ALTER COLUMN op SET COMPRESSION lz4;
    END IF;
END
$$;
