-- conversations thread the messages between one of our numbers and one person's number on one
-- channel. CreateMessage and CreateInbound upsert the row in their own transactions; the unique
-- (channel, our_number, their_number) makes concurrent first messages meet on one row.
CREATE TABLE conversations (
	id               text COLLATE "C" PRIMARY KEY,
	channel          text NOT NULL,
	our_number       text COLLATE "C" NOT NULL,
	their_number     text COLLATE "C" NOT NULL,
	last_message_at  timestamptz NOT NULL,
	last_inbound_at  timestamptz,
	last_outbound_at timestamptz,
	inbound_count    integer NOT NULL DEFAULT 0,
	outbound_count   integer NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL
);
CREATE UNIQUE INDEX conversations_pair ON conversations (channel, our_number, their_number);
CREATE INDEX conversations_recent ON conversations (last_message_at, id);
CREATE INDEX conversations_their ON conversations (their_number);

INSERT INTO conversations (id, channel, our_number, their_number, last_message_at, last_inbound_at,
		last_outbound_at, inbound_count, outbound_count, created_at)
	SELECT 'conv_' || md5(channel || '|' || our || '|' || their), channel, our, their, max(at), max(last_in), max(last_out),
		sum(n_in), sum(n_out), min(at)
	FROM (
		SELECT CASE channel WHEN 'mms' THEN 'sms' ELSE channel END AS channel, from_number AS our, to_number AS their,
			created_at AS at, NULL::timestamptz AS last_in, created_at AS last_out, 0 AS n_in, 1 AS n_out
		FROM messages WHERE from_number <> ''
		UNION ALL
		SELECT CASE channel WHEN 'mms' THEN 'sms' ELSE channel END, to_number, from_number, received_at, received_at,
			NULL, 1, 0
		FROM inbound_messages
	) AS t
	GROUP BY channel, our, their;
