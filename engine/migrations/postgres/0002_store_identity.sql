-- The store's identity: written once, when the schema is created, and copied
-- into a marker file in storage_dir, so that an engine pointed at another
-- database refuses to start instead of taking the stored files for orphans.
CREATE TABLE store_identity (
    singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    id VARCHAR(36) COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO store_identity (singleton, id, created_at)
VALUES (1, replace(gen_random_uuid()::text, '-', ''),
        (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);
-- Movies this store deleted: a file of one of them is the only file without
-- a row that the periodic cleanup may remove.
CREATE TABLE movie_deletions (
    id VARCHAR(36) COLLATE "C" NOT NULL PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX ix_movie_deletions_deleted_at ON movie_deletions (deleted_at);
