-- Rooms known in advance. Written in the SQL that both SQLite and
-- PostgreSQL accept. Times are Unix nanoseconds, UTC.
-- conference_number is '' when the room has none; it is unique otherwise.
CREATE TABLE rooms (
	id                 TEXT PRIMARY KEY,
	conference_number  TEXT NOT NULL DEFAULT '',
	pin_hash           TEXT NOT NULL DEFAULT '',
	moderator_pin_hash TEXT NOT NULL DEFAULT '',
	locked             BOOLEAN NOT NULL DEFAULT FALSE,
	entry_tones        BOOLEAN NOT NULL DEFAULT TRUE,
	record             BOOLEAN NOT NULL DEFAULT FALSE,
	record_tracks      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at         BIGINT NOT NULL,
	updated_at         BIGINT NOT NULL
);

CREATE UNIQUE INDEX rooms_conference_number ON rooms (conference_number) WHERE conference_number <> '';
