-- Tandem store schema, version 5: snapshots hold the content in its type's
-- MessagePack form.
--
-- A snapshot's content is what the document's type (documents.type, package
-- doctype) encodes and decodes, the same bytes the joined message carries,
-- so that the store never knows a type. Text snapshots were the raw UTF-8
-- text: they gain the MessagePack str header (fixstr, str8, str16 or str32 by
-- length). The op log is unchanged: text ops were MessagePack already.
UPDATE snapshots SET content =
    CASE
        WHEN length(content) < 32 THEN set_byte('\x00'::bytea, 0, 160 + length(content))
        WHEN length(content) < 256 THEN set_byte('\xd900'::bytea, 1, length(content))
        WHEN length(content) < 65536 THEN '\xda'::bytea || substring(int4send(length(content)) FROM 3 FOR 2)
        ELSE '\xdb'::bytea || int4send(length(content))
    END || content
WHERE doc IN (SELECT pk FROM documents WHERE type = 'text');
