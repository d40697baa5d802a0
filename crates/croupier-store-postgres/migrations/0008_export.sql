-- The analytics export's record of the objects it wrote (the event ids are
-- in the `export` consumer's inbox): what the manifests list. An object
-- with no row here is an orphan of a crash and is not part of the export.
-- Mirrors the SQLite backend's 0009_export.sql.
CREATE TABLE export_files (
    path           TEXT PRIMARY KEY,     -- relative to the export root
    event_type     TEXT NOT NULL,
    dt             DATE NOT NULL,        -- partition date (UTC)
    rows           BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    min_created_at BIGINT NOT NULL,      -- Unix ms
    max_created_at BIGINT NOT NULL,
    exported_at    BIGINT NOT NULL
);
CREATE INDEX export_files_partition ON export_files (event_type, dt, path);
