-- media_blobs holds stored inbound media when media_store is "database": content-addressed by
-- the SHA-256 of the bytes, so that every node of a cluster serves what any node received.
CREATE TABLE media_blobs (
	sha256     text COLLATE "C" PRIMARY KEY,
	data       bytea NOT NULL,
	size       bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
