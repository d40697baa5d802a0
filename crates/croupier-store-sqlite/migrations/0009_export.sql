-- The analytics export's record of the objects it wrote (the event ids are
-- in the `export` consumer's inbox): what the manifests list. An object
-- with no row here is an orphan of a crash and is not part of the export.
CREATE TABLE export_files (
    path           TEXT PRIMARY KEY,     -- relative to the export root
    event_type     TEXT NOT NULL,
    dt             TEXT NOT NULL,        -- partition date, YYYY-MM-DD (UTC)
    rows           INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    min_created_at INTEGER NOT NULL,     -- Unix ms
    max_created_at INTEGER NOT NULL,
    exported_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX export_files_partition ON export_files (event_type, dt, path);
