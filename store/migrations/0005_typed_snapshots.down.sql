-- Back to schema version 4: text snapshots lose their MessagePack str header.
UPDATE snapshots SET content = substring(content FROM
    CASE get_byte(content, 0)
        WHEN 217 THEN 3 -- 0xd9 str8
        WHEN 218 THEN 4 -- 0xda str16
        WHEN 219 THEN 6 -- 0xdb str32
        ELSE 2          -- fixstr
    END)
WHERE doc IN (SELECT pk FROM documents WHERE type = 'text');
