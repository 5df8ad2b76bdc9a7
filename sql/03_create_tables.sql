-- pixyproxy on MySQL 8 / MariaDB 10.11, step 3 of 3. Run as an administrator, in the
-- database from step 1:
--   mysql -u root -p pixyproxy < sql/03_create_tables.sql
--
-- The same schema `init_schema` creates (pixyproxy/adapters/driven/sql/init.py); a test applies both
-- to fresh databases and compares them. Safe to run again: every table is IF NOT EXISTS.
--
-- guid is CHAR(36) ASCII rather than BINARY(16): readable in the mysql client and in logs,
-- identical on SQLite, and its bytewise order is the order of the canonical string the
-- application sorts ties by. It costs 20 bytes more per index entry than BINARY(16).

CREATE TABLE IF NOT EXISTS images (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    filename VARCHAR(255) NOT NULL,
    prompt TEXT NOT NULL,
    -- A JSON array of the tags in display order, so that one row answers a read;
    -- image_tags below stays the index that tag filters page through.
    tags TEXT NOT NULL,
    author VARCHAR(64) NOT NULL,
    content_type VARCHAR(100) NOT NULL,
    byte_size BIGINT NOT NULL,
    width INT NOT NULL,
    height INT NOT NULL,
    model VARCHAR(100) NOT NULL,
    sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    revised_prompt TEXT NULL,
    upstream_request_id VARCHAR(255) NULL,
    usage_input_tokens INT NULL,
    usage_output_tokens INT NULL,
    usage_total_tokens INT NULL,
    -- A ThumbHash (base64) of the picture, for clients to paint a blurred preview.
    placeholder VARCHAR(64) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT uq_images_guid UNIQUE (guid),
    -- Newest-first pages (all, and by author) read LIMIT rows backwards from the anchor.
    INDEX ix_images_newest (created_at, guid),
    INDEX ix_images_author_newest (author, created_at, guid),
    -- The blob garbage collector asks which file names are still referenced.
    INDEX ix_images_filename (filename)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- created_at and guid repeat the image's (immutable) sort key, so a tag's pages come straight
-- off ix_image_tags_newest.
CREATE TABLE IF NOT EXISTS image_tags (
    image_id BIGINT NOT NULL,
    tag VARCHAR(32) NOT NULL,
    ordinal SMALLINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (image_id, tag),
    CONSTRAINT fk_image_tags_image FOREIGN KEY (image_id)
        REFERENCES images (id) ON DELETE CASCADE,
    INDEX ix_image_tags_newest (tag, created_at, guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The renditions stored for an image (bytes under blob_key), one per width and format.
CREATE TABLE IF NOT EXISTS image_renditions (
    image_id BIGINT NOT NULL,
    width INT NOT NULL,
    format VARCHAR(8) NOT NULL,
    blob_key VARCHAR(255) NOT NULL,
    height INT NOT NULL,
    byte_size BIGINT NOT NULL,
    sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (image_id, width, format),
    CONSTRAINT fk_image_renditions_image FOREIGN KEY (image_id)
        REFERENCES images (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS api_keys (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    prefix VARCHAR(64) NOT NULL,
    key_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    revoked_at DATETIME(6) NULL,
    CONSTRAINT uq_api_keys_prefix UNIQUE (prefix),
    CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (author, Idempotency-Key): the request's fingerprint, and the image once made.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    author VARCHAR(64) NOT NULL,
    idem_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    image_guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (author, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
