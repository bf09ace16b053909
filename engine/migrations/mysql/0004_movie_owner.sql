-- Movies belong to a project (CONTRACT §8): the project and user of whoever
-- created them. Rows from before have no owner, and keep their names.
-- "No owner" is stored as '' rather than NULL: every backend takes NULLs as
-- distinct in a unique index, so (NULL, 'Alien') twice would be allowed and
-- ownerless names would stop being unique. The store reads '' back as none.
-- 255 characters, as Keystone's ids, in the NO PAD binary collation 0003
-- chose for names: a scope must not take 'p ' for 'p'. The widest index,
-- (project_id, state, name), is 4 × (255 + 16 + 255) + 6 = 2110 bytes,
-- within InnoDB's 3072.
SET @pymsboot_owner_collation = (
    SELECT COLLATION_NAME FROM information_schema.COLLATIONS
    WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')
    ORDER BY FIELD(COLLATION_NAME, 'utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')
    LIMIT 1
);
SET @pymsboot_add_owner = CONCAT(
    'ALTER TABLE movies',
    ' ADD COLUMN project_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @pymsboot_owner_collation, ' NOT NULL DEFAULT '''',',
    ' ADD COLUMN user_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @pymsboot_owner_collation, ' NOT NULL DEFAULT '''''
);
PREPARE pymsboot_add_owner FROM @pymsboot_add_owner;
EXECUTE pymsboot_add_owner;
DEALLOCATE PREPARE pymsboot_add_owner;
-- A name is unique within its project, compared exactly as 0003 made it.
DROP INDEX ux_movies_name ON movies;
CREATE UNIQUE INDEX ux_movies_project_name ON movies (project_id, name);
-- Names may now repeat across projects: listings of every project by name
-- break ties by id. Within a project names are unique, and the unique index
-- above serves its listings by name.
DROP INDEX ix_movies_state_name ON movies;
CREATE INDEX ix_movies_name ON movies (name, id);
CREATE INDEX ix_movies_state_name ON movies (state, name, id);
-- A project's listings, in each order and filtered by state.
CREATE INDEX ix_movies_project_rank ON movies (project_id, movie_rank, id);
CREATE INDEX ix_movies_project_created_at ON movies (project_id, created_at, id);
CREATE INDEX ix_movies_project_state ON movies (project_id, state, created_at, id);
CREATE INDEX ix_movies_project_state_name ON movies (project_id, state, name);
CREATE INDEX ix_movies_project_state_rank ON movies (project_id, state, movie_rank, id);
CREATE INDEX ix_movies_user ON movies (user_id);
