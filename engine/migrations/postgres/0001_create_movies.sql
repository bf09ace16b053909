-- The movies table and the indexes its queries read.
-- Ids are UUID text, meta is JSON text, times are microseconds since the epoch.
-- The rank column is movie_rank because RANK is a reserved word in MySQL 8.
-- COLLATE "C" makes names unique and sorted by code point, as on the other
-- backends, whatever the database's locale.
CREATE TABLE movies (
    id VARCHAR(36) COLLATE "C" NOT NULL PRIMARY KEY,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    movie_rank BIGINT,
    url VARCHAR(2048) NOT NULL,
    state VARCHAR(16) COLLATE "C" NOT NULL,
    size BIGINT,
    bytes_downloaded BIGINT NOT NULL DEFAULT 0,
    checksum VARCHAR(80),
    error TEXT,
    meta TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    download_generation BIGINT NOT NULL DEFAULT 0,
    owner VARCHAR(255),
    heartbeat BIGINT
);
CREATE UNIQUE INDEX ux_movies_name ON movies (name);
CREATE INDEX ix_movies_rank ON movies (movie_rank, id);
CREATE INDEX ix_movies_created_at ON movies (created_at, id);
-- Listings filtered by state, in each order; the claim queries.
CREATE INDEX ix_movies_state ON movies (state, created_at, id);
CREATE INDEX ix_movies_state_name ON movies (state, name);
CREATE INDEX ix_movies_state_rank ON movies (state, movie_rank, id);
-- Heartbeats of one owner's downloads.
CREATE INDEX ix_movies_owner ON movies (owner);
