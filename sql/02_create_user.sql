-- pixyproxy on MySQL 8 / MariaDB 10.11, step 2 of 3. Run as an administrator:
--   mysql -u root -p < sql/02_create_user.sql
--
-- The application's own account: it reads and writes rows, nothing else. It cannot create,
-- alter or drop tables, so the schema comes from 03_create_tables.sql, applied by an
-- administrator; pixyproxy's startup check (`init_schema`) then finds every table present and
-- issues no DDL. Narrow the host part ('%') to the application's network where you can.
--
-- !!! CHANGE THE PASSWORD BELOW before running this, and give pixyproxy the same one in its
-- !!! database URL: mysql+pymysql://pixyproxy:<password>@<host>:3306/pixyproxy
CREATE USER IF NOT EXISTS 'pixyproxy'@'%' IDENTIFIED BY 'CHANGE-ME-pixyproxy-password';
GRANT SELECT, INSERT, UPDATE, DELETE ON pixyproxy.* TO 'pixyproxy'@'%';
