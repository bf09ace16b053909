-- Names compare exactly, code point by code point, as on the other backends.
-- utf8mb4_bin is case-sensitive but PAD SPACE: 'trail ' and 'trail' would be
-- one name. The NO PAD binary collation of the server is taken where it has
-- one (MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin), utf8mb4_bin
-- otherwise. The unique index and the (state, name) index follow the column.
SET @pymsboot_name_collation = (
    SELECT COLLATION_NAME FROM information_schema.COLLATIONS
    WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')
    ORDER BY FIELD(COLLATION_NAME, 'utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')
    LIMIT 1
);
SET @pymsboot_alter_name = CONCAT(
    'ALTER TABLE movies MODIFY name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @pymsboot_name_collation, ' NOT NULL'
);
PREPARE pymsboot_alter_name FROM @pymsboot_alter_name;
EXECUTE pymsboot_alter_name;
DEALLOCATE PREPARE pymsboot_alter_name;
