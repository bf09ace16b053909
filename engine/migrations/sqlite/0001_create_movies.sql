-- The movies table and the indexes its queries read.
-- Ids are UUID text, meta is JSON text, times are microseconds since the epoch.
-- The rank column is movie_rank because RANK is a reserved word in MySQL 8.
-- TEXT compares byte-wise (BINARY collation): names sort by code point.
CREATE TABLE movies (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    movie_rank INTEGER,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER,
    bytes_downloaded INTEGER NOT NULL DEFAULT 0,
    checksum TEXT,
    error TEXT,
    meta TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    download_generation INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    heartbeat INTEGER
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
