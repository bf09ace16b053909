-- Movies belong to a project (CONTRACT §8): the project and user of whoever
-- created them. Rows from before have no owner, and keep their names.
-- "No owner" is stored as '' rather than NULL: every backend takes NULLs as
-- distinct in a unique index, so (NULL, 'Alien') twice would be allowed and
-- ownerless names would stop being unique. The store reads '' back as none.
ALTER TABLE movies ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
ALTER TABLE movies ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
-- A name is unique within its project, compared exactly as 0003 made it.
DROP INDEX ux_movies_name;
CREATE UNIQUE INDEX ux_movies_project_name ON movies (project_id, name);
-- Names may now repeat across projects: listings of every project by name
-- break ties by id. Within a project names are unique, and the unique index
-- above serves its listings by name.
DROP INDEX ix_movies_state_name;
CREATE INDEX ix_movies_name ON movies (name, id);
CREATE INDEX ix_movies_state_name ON movies (state, name, id);
-- A project's listings, in each order and filtered by state.
CREATE INDEX ix_movies_project_rank ON movies (project_id, movie_rank, id);
CREATE INDEX ix_movies_project_created_at ON movies (project_id, created_at, id);
CREATE INDEX ix_movies_project_state ON movies (project_id, state, created_at, id);
CREATE INDEX ix_movies_project_state_name ON movies (project_id, state, name);
CREATE INDEX ix_movies_project_state_rank ON movies (project_id, state, movie_rank, id);
CREATE INDEX ix_movies_user ON movies (user_id);
