-- media_blobs holds stored inbound media when media_store is "database": content-addressed by
-- the SHA-256 of the bytes, so that every node of a cluster serves what any node received.
CREATE TABLE media_blobs (
	sha256     TEXT PRIMARY KEY,
	data       BLOB NOT NULL,
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
