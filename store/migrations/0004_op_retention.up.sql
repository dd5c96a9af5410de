-- Tandem store schema, version 4: op-log retention.
--
-- documents.oldest is the oldest version whose history is kept: compaction
-- (store/pg_retention.go) writes a snapshot at a cutoff, moves oldest up to it
-- in the same statement, then deletes the ops and snapshots below it. Readers
-- compare a version with oldest in the same statement as they read ops, so
-- they never see the rows below it vanish mid-read. A constant default adds
-- the column without rewriting the table.
ALTER TABLE documents ADD COLUMN oldest bigint NOT NULL DEFAULT 0 CHECK (oldest >= 0 AND oldest <= version);
