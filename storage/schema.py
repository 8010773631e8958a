"""Schema and migrations, versioned by ``PRAGMA user_version`` (qutebrowser's sql.py model).

``MIGRATIONS[i]`` upgrades a database from version ``i`` to ``i + 1``; a fresh file runs
them all. Each step runs inside the caller's transaction, so a failed upgrade changes nothing.

Layout (v7):
    meta(key, value)                   active/building index ids, measured embedding rate
    folders, files, chunks             the documents (files.title from the extractor);
                                       chunks.cjk marks text with CJK characters
    vector_indexes(id, fingerprint)    one row per embedding space (two during a rebuild)
    embeddings(index_id, content_hash, vector)
                                       float32 vector keyed by chunk content hash (the old
                                       per-row ``bits`` column is no longer filled: see below)
    vector_bits(index_id, block, ...)  the sign bits of every vector, 1,024 rows per blob, so
                                       search loads 128 MB of bits at 1M x 1024 without
                                       touching the 4 GB of float rows
    embed_queue(index_id, file_id)     phase 2: files with chunks still lacking a vector in an
                                       index, in priority order (band, turns, mtime)
    embed_totals(index_id)             files/chunks/tokens in embed_queue, kept by triggers so
                                       progress never counts a million rows
    chunks_fts (unicode61)             external-content FTS5 over the exact chunk text
    chunks_lex(stems, grams, lang)     FTS5: Snowball stems and CJK bigrams (``storage.lexical``)
    chunk_langs(lang, n)               chunks per detected language (picks query stemmers)
    chunks_fields(name, title, heading) FTS5: file name, title and heading path per chunk
    jobs                               persisted pipeline queue (phase 1)
    ocr_pages(content_hash, page)      text OCR read, by file content (v6)
    documents, mailboxes               the messages of mail files; how far an mbox was read (v6)
    chunks.lead_end, chunks.lead_hash  the lead of a file's (or message's) first chunk: its
                                       opening tokens, embedded as a second vector (v7)

The v3 triggers call ``quarry_stems``/``quarry_grams``/``quarry_lang``, Python functions that
``storage.fts.register_functions`` adds to every connection ``storage.connection`` opens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.errors import SchemaTooNew

_V1 = [
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL
    )""",
    """CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        folder_id INTEGER REFERENCES folders(id) ON DELETE SET NULL,
        ext TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        mtime REAL NOT NULL DEFAULT 0,
        content_hash TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'failed', 'pending')),
        error TEXT,
        retries INTEGER NOT NULL DEFAULT 0,
        indexed_at REAL
    )""",
    "CREATE INDEX files_hash ON files(content_hash)",
    "CREATE INDEX files_status ON files(status)",
    """CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        page INTEGER,
        heading TEXT,
        token_count INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT NOT NULL,
        cjk INTEGER NOT NULL DEFAULT 0,
        UNIQUE (file_id, ordinal)
    )""",
    "CREATE INDEX chunks_hash ON chunks(content_hash)",
    """CREATE TABLE vector_indexes (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        fp_key TEXT NOT NULL,
        dim INTEGER NOT NULL,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE embeddings (
        id INTEGER PRIMARY KEY,
        index_id INTEGER NOT NULL REFERENCES vector_indexes(id) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        bits BLOB NOT NULL,
        UNIQUE (index_id, content_hash)
    )""",
    """CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE VIRTUAL TABLE chunks_tri USING fts5(
        text, content='chunks', content_rowid='id', tokenize='trigram'
    )""",
    """CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        INSERT INTO chunks_tri(rowid, text) SELECT new.id, new.text WHERE new.cjk;
    END""",
    """CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO chunks_tri(chunks_tri, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.cjk;
    END""",
]

# v2: the persisted job queue (v1 databases from early builds had none).
_V2 = [
    """CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('index', 'delete')),
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at REAL NOT NULL,
        claimed_at REAL
    )""",
    "CREATE UNIQUE INDEX jobs_queued_path ON jobs(path) WHERE state = 'queued'",
    "CREATE INDEX jobs_state ON jobs(state, id)",
]


# v3: language-aware keywords. The trigram table (CJK only, 3+ characters) gives way to
# chunks_lex: stems of each word in its detected language, and CJK bigrams, which also find
# two-character words through BM25. Existing chunks are analysed once, here.
_V3 = [
    "DROP TRIGGER chunks_ai",
    "DROP TRIGGER chunks_ad",
    "DROP TABLE chunks_tri",
    """CREATE VIRTUAL TABLE chunks_lex USING fts5(
        stems, grams, lang UNINDEXED, tokenize='unicode61 remove_diacritics 2'
    )""",
    "CREATE TABLE chunk_langs (lang TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        INSERT INTO chunks_lex(rowid, stems, grams, lang) VALUES
            (new.id, quarry_stems(new.text), quarry_grams(new.text), quarry_lang(new.text));
        INSERT INTO chunk_langs(lang, n) VALUES (quarry_lang(new.text), 1)
            ON CONFLICT(lang) DO UPDATE SET n = n + 1;
    END""",
    """CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        UPDATE chunk_langs SET n = n - 1
            WHERE lang = (SELECT lang FROM chunks_lex WHERE rowid = old.id);
        DELETE FROM chunks_lex WHERE rowid = old.id;
    END""",
    """INSERT INTO chunks_lex(rowid, stems, grams, lang)
        SELECT id, quarry_stems(text), quarry_grams(text), quarry_lang(text) FROM chunks""",
    "INSERT INTO chunk_langs(lang, n) SELECT lang, count(*) FROM chunks_lex GROUP BY lang",
]


# v4: two-phase indexing. Phase 1 writes chunks + keywords; phase 2 fills vectors from
# ``embed_queue``. Sign bits move to ``vector_bits`` blocks (filled from the old per-row
# column here, once). Every index gets an ``embed_totals`` row when it is created.
_V4 = [
    """CREATE TABLE embed_queue (
        index_id INTEGER NOT NULL REFERENCES vector_indexes(id) ON DELETE CASCADE,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        band INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0,
        mtime REAL NOT NULL DEFAULT 0,
        chunks INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        PRIMARY KEY (index_id, file_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX embed_queue_order ON embed_queue(index_id, band DESC, turns, mtime DESC)",
    "CREATE INDEX embed_queue_file ON embed_queue(file_id)",
    """CREATE TABLE embed_totals (
        index_id INTEGER PRIMARY KEY REFERENCES vector_indexes(id) ON DELETE CASCADE,
        files INTEGER NOT NULL DEFAULT 0,
        chunks INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TRIGGER vector_indexes_ai AFTER INSERT ON vector_indexes BEGIN
        INSERT OR IGNORE INTO embed_totals(index_id) VALUES (new.id);
    END""",
    """CREATE TRIGGER embed_queue_ai AFTER INSERT ON embed_queue BEGIN
        UPDATE embed_totals SET files = files + 1, chunks = chunks + new.chunks,
            tokens = tokens + new.tokens WHERE index_id = new.index_id;
    END""",
    """CREATE TRIGGER embed_queue_ad AFTER DELETE ON embed_queue BEGIN
        UPDATE embed_totals SET files = files - 1, chunks = chunks - old.chunks,
            tokens = tokens - old.tokens WHERE index_id = old.index_id;
    END""",
    """CREATE TRIGGER embed_queue_au AFTER UPDATE OF chunks, tokens ON embed_queue BEGIN
        UPDATE embed_totals SET chunks = chunks - old.chunks + new.chunks,
            tokens = tokens - old.tokens + new.tokens WHERE index_id = new.index_id;
    END""",
    """CREATE TABLE vector_bits (
        index_id INTEGER NOT NULL REFERENCES vector_indexes(id) ON DELETE CASCADE,
        block INTEGER NOT NULL,
        nrows INTEGER NOT NULL,
        ids BLOB NOT NULL,
        bits BLOB NOT NULL,
        PRIMARY KEY (index_id, block)
    )""",
    "INSERT OR IGNORE INTO embed_totals(index_id) SELECT id FROM vector_indexes",
]


def _v4(conn: Any) -> None:
    from storage import bits

    _steps(_V4)(conn)
    for (index_id,) in conn.execute("SELECT id FROM vector_indexes").fetchall():
        bits.build_from_rows(conn, index_id)
    building = conn.execute("SELECT value FROM meta WHERE key = 'building_index'").fetchone()
    if building is not None:  # a rebuild begun by v2 goes on in priority order
        from storage import backlog

        backlog.enqueue_all(conn, int(building[0]))


# v5: file name, title and heading path as their own keyword columns (measured weights in
# ``storage.fts``), so "tar" finds tar.md first. Each column holds the field's words, their
# stems in the chunk's language and CJK bigrams (``storage.lexical.field_terms``); a rename
# or a new title rewrites the file's rows.
_FIELDS = (
    "quarry_field(quarry_name(f.path), {lang}), quarry_field(f.title, {lang}),"
    " quarry_field(coalesce({heading}, ''), {lang})"
)
_V5 = [
    "ALTER TABLE files ADD COLUMN title TEXT NOT NULL DEFAULT ''",
    """CREATE VIRTUAL TABLE chunks_fields USING fts5(
        name, title, heading, tokenize='unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER chunks_fields_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fields(rowid, name, title, heading)
            SELECT new.id, {_FIELDS.format(lang="quarry_lang(new.text)", heading="new.heading")}
            FROM files f WHERE f.id = new.file_id;
    END""",
    """CREATE TRIGGER chunks_fields_ad AFTER DELETE ON chunks BEGIN
        DELETE FROM chunks_fields WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER files_fields_au AFTER UPDATE OF path, title ON files
        WHEN old.path IS NOT new.path OR old.title IS NOT new.title BEGIN
        UPDATE chunks_fields SET
            name = quarry_field(quarry_name(new.path),
                (SELECT lang FROM chunks_lex WHERE chunks_lex.rowid = chunks_fields.rowid)),
            title = quarry_field(new.title,
                (SELECT lang FROM chunks_lex WHERE chunks_lex.rowid = chunks_fields.rowid))
            WHERE rowid IN (SELECT id FROM chunks WHERE file_id = new.id);
    END""",
    f"""INSERT INTO chunks_fields(rowid, name, title, heading)
        SELECT c.id, {_FIELDS.format(lang="l.lang", heading="c.heading")}
        FROM chunks c JOIN files f ON f.id = c.file_id JOIN chunks_lex l ON l.rowid = c.id""",
]


# v6: OCR and mail. chunks.ocr marks text recognised in an image; files.needs_ocr counts the
# pages left unread because OCR was off (switching it on re-reads exactly those files);
# ocr_pages caches what OCR read, by file content hash, so a moved or re-added scan is never
# read twice. documents: the messages of a mail file (one row per message, key = its byte
# offset in an mbox), their chunks point at them; mailboxes: how far an mbox was read, and
# the hash of the bytes before that point, so appended mail is read alone.
_V6 = [
    "ALTER TABLE chunks ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE files ADD COLUMN needs_ocr INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE ocr_pages (
        content_hash TEXT NOT NULL,
        page INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (content_hash, page)
    ) WITHOUT ROWID""",
    """CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        sender TEXT NOT NULL DEFAULT '',
        recipients TEXT NOT NULL DEFAULT '',
        date TEXT NOT NULL DEFAULT '',
        meta TEXT NOT NULL DEFAULT '{}',
        gen INTEGER NOT NULL DEFAULT 0,
        UNIQUE (file_id, key)
    )""",
    "CREATE INDEX documents_sender ON documents(sender)",
    "ALTER TABLE chunks ADD COLUMN doc_id INTEGER REFERENCES documents(id) ON DELETE CASCADE",
    "CREATE INDEX chunks_doc ON chunks(doc_id)",
    """CREATE TABLE mailboxes (
        file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
        resume_at INTEGER NOT NULL DEFAULT 0,
        prefix_hash TEXT NOT NULL DEFAULT '',
        gen INTEGER NOT NULL DEFAULT 0,
        complete INTEGER NOT NULL DEFAULT 0
    )""",
]


# v7: leads. The first chunk of each file (and of each mail message) gets a second vector,
# of its opening ``ChunkerConfig.lead_tokens`` tokens only: the title, name line or abstract
# that says what the whole document is about, without the rest of a 384-token chunk
# diluting it (``app/leads.py`` has the measurements). ``lead_end`` is where the lead stops
# in the chunk's text (0: the chunk is too short to need one; NULL on other chunks, and on
# first chunks written before v7, which ``app.leads.backfill`` fills in from the stored
# text); ``lead_hash`` keys its vector in ``embeddings`` as ``content_hash`` keys the chunk's.
_V7 = [
    "ALTER TABLE chunks ADD COLUMN lead_end INTEGER",
    "ALTER TABLE chunks ADD COLUMN lead_hash TEXT",
    "CREATE INDEX chunks_lead ON chunks(lead_hash) WHERE lead_hash IS NOT NULL",
    "INSERT INTO meta(key, value) SELECT 'lead_backfill', '0' WHERE EXISTS (SELECT 1 FROM chunks)",
]


def _steps(statements: list[str]) -> Callable[[Any], None]:
    def apply(conn: Any) -> None:
        for sql in statements:
            conn.execute(sql)

    return apply


MIGRATIONS: list[Callable[[Any], None]] = [
    _steps(_V1),
    _steps(_V2),
    _steps(_V3),
    _v4,
    _steps(_V5),
    _steps(_V6),
    _steps(_V7),
]
SCHEMA_VERSION = len(MIGRATIONS)


def version(conn: Any) -> int:
    """The database's schema version (0 for a fresh file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: Any, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema to ``target`` in one IMMEDIATE transaction; returns the old version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"database schema v{current} is newer than this Quarry (v{SCHEMA_VERSION})"
            )
        for step in MIGRATIONS[current:target]:
            step(conn)
        if target > current:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current
