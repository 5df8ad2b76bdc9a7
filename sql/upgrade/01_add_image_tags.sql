-- pixyproxy on MySQL 8 / MariaDB 10.11: upgrade a database whose tables were created before
-- images.tags existed. Run once, as an administrator, in the pixyproxy database:
--   mysql -u root -p pixyproxy < sql/upgrade/01_add_image_tags.sql
--
-- images.tags repeats each image's tags as a JSON array in display order, so one row answers
-- a read; image_tags stays the index tag filters page through. init_schema does the same by
-- itself when its account may ALTER; this is for deployments whose app account may not.
ALTER TABLE images ADD COLUMN tags TEXT NULL AFTER prompt;
UPDATE images i SET i.tags = COALESCE(
    (SELECT CONCAT('[', GROUP_CONCAT(JSON_QUOTE(t.tag) ORDER BY t.ordinal SEPARATOR ','), ']')
     FROM image_tags t WHERE t.image_id = i.id), '[]');
ALTER TABLE images MODIFY tags TEXT NOT NULL;
