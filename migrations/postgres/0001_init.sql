-- partnership-map on PostgreSQL, migration 1: the same tables as SQLite's migrations 1 and 2.
-- Times are RFC 3339 UTC text, as in SQLite, so both stores sort and compare them alike.
CREATE TABLE submissions (
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    la_code TEXT NOT NULL,
    partnership_id TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    name TEXT,
    organisation TEXT,
    email TEXT,
    status TEXT NOT NULL DEFAULT 'new',
    review_note TEXT,
    reviewed_at TEXT,
    reviewed_by TEXT,
    personal_data_purged_at TEXT,
    data_version TEXT NOT NULL,
    change_id BIGINT
);
CREATE INDEX submissions_status ON submissions (status, id);

CREATE TABLE changes (
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    editor TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    submission_id BIGINT REFERENCES submissions (id),
    reverts BIGINT REFERENCES changes (id),
    summary TEXT NOT NULL,
    diff TEXT NOT NULL,
    undo TEXT NOT NULL,
    la_codes TEXT NOT NULL
);
ALTER TABLE submissions ADD FOREIGN KEY (change_id) REFERENCES changes (id);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE submission_slots (client TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX submission_slots_client ON submission_slots (client, at);
CREATE INDEX submission_slots_at ON submission_slots (at);
