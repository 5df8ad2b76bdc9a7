-- pixyproxy on MySQL 8 / MariaDB 10.11, step 1 of 3. Run as an administrator:
--   mysql -u root -p < sql/01_create_database.sql
--
-- utf8mb4: prompts carry any Unicode, emoji included (MySQL's "utf8" stops at 3 bytes).
-- utf8mb4_bin rather than utf8mb4_unicode_ci: authors, tags and key prefixes are compared
-- exactly, as the application compares them. A _ci collation would make 'Anna' and 'anna' the
-- same author, fold accents inside unique keys, and make the database disagree with the
-- in-memory and SQLite backends. The one case-insensitive operation, the prompt search,
-- lower-cases both sides explicitly. Each table also names this collation itself, so the
-- schema is the same even in a database created with other defaults.
CREATE DATABASE IF NOT EXISTS pixyproxy
    CHARACTER SET utf8mb4
    COLLATE utf8mb4_bin;
