-- Tandem store schema, version 1.
--
-- documents.pk is the incarnation of an id: deleting a document deletes its row
-- (ops and snapshots go with it by cascade) and creating the id again makes a new
-- row with a new pk, so the two histories can never mix.

CREATE TABLE documents (
    pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- "C" collation: ListDocs pages by byte order, the same order as Go's strings.
    id         text COLLATE "C" NOT NULL UNIQUE,
    type       text NOT NULL,
    title      text NOT NULL DEFAULT '',
    metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    version    bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ops (
    doc        bigint NOT NULL REFERENCES documents (pk) ON DELETE CASCADE,
    version    bigint NOT NULL CHECK (version >= 0),
    -- The op in MessagePack wire form: compact and fast to decode.
    op         bytea NOT NULL,
    sid        text,
    seq        bigint,
    user_id    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc, version),
    CHECK ((sid IS NULL) = (seq IS NULL))
);

-- Exactly-once: a client's (sid, seq) is committed at most once per document.
CREATE UNIQUE INDEX ops_doc_sid_seq ON ops (doc, sid, seq) WHERE sid IS NOT NULL;

CREATE TABLE snapshots (
    doc        bigint NOT NULL REFERENCES documents (pk) ON DELETE CASCADE,
    version    bigint NOT NULL CHECK (version >= 0),
    -- bytea, not text: a document may contain U+0000, which text cannot hold.
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc, version)
);
