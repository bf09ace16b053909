-- The store's identity: written once, when the schema is created, and copied
-- into a marker file in storage_dir, so that an engine pointed at another
-- database refuses to start instead of taking the stored files for orphans.
CREATE TABLE store_identity (
    singleton INTEGER NOT NULL,
    id VARCHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (singleton),
    CHECK (singleton = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
INSERT INTO store_identity (singleton, id, created_at)
VALUES (1, REPLACE(UUID(), '-', ''), CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED));
-- Movies this store deleted: a file of one of them is the only file without
-- a row that the periodic cleanup may remove.
CREATE TABLE movie_deletions (
    id CHAR(36) NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE INDEX ix_movie_deletions_deleted_at ON movie_deletions (deleted_at);
