-- Tandem store schema, version 2: ops.doc loses its foreign key.
--
-- The key cost a check per inserted op row (a SELECT ... FOR KEY SHARE on
-- documents, run by a trigger for every row): a tenth of Postgres' CPU under a
-- hot document. It guarded nothing the append does not already guarantee:
-- AppendOps inserts only in the same statement as a guarded UPDATE of the
-- document's row, which holds that row's lock until commit, so ops are never
-- written for a row that does not exist. Deleting a document, which the
-- cascade did, is now DeleteDoc's own second statement (see store/pg.go).
ALTER TABLE ops DROP CONSTRAINT IF EXISTS ops_doc_fkey;
