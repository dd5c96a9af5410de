-- Going back to version 3 forgets where the kept history starts; a database
-- whose logs were compacted then has documents whose early versions are gone.
ALTER TABLE documents DROP COLUMN IF EXISTS oldest;
