-- consent_records is each recipient's append-only consent history.
CREATE TABLE consent_records (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	phone    TEXT    NOT NULL,
	scope    TEXT    NOT NULL,
	state    TEXT    NOT NULL,
	source   TEXT    NOT NULL,
	evidence TEXT    NOT NULL DEFAULT '',
	actor    TEXT    NOT NULL DEFAULT '',
	at       INTEGER NOT NULL
);
CREATE INDEX consent_records_phone ON consent_records (phone, scope, at, id);
