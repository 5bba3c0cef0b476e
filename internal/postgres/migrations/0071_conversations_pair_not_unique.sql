-- A conversation's primary key is derived from its pair ('conv_' || md5(channel|ours|theirs)), so
-- the key alone keeps one row per pair. As a second unique index, conversations_pair could refuse
-- the second of two first messages of one conversation inserted at the same moment: PostgreSQL
-- checks a non-arbiter unique index with an ordinary unique check, which waits for the other
-- insert and then fails, although ON CONFLICT (id) would have turned it into an update. Seen in the
-- clock-skew drill under load. The pair stays indexed for lookups, without the unique check.
-- (PostgreSQL only: SQLite has one writer, so its inserts never race.)
DROP INDEX conversations_pair;
CREATE INDEX conversations_pair ON conversations (channel, our_number, their_number);
