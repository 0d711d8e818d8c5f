-- partnership-map on PostgreSQL, migration 2: verification rounds, as SQLite's migration 4.
-- Tokens are never stored: only their SHA-256 (hex) and a 16-hex-digit prefix to look them up.
CREATE TABLE verification_campaigns (
    id BIGSERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    name TEXT NOT NULL,
    contact_role TEXT NOT NULL,
    expiry_days BIGINT NOT NULL
);

CREATE TABLE verification_invitations (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES verification_campaigns (id),
    la_code TEXT NOT NULL,
    token_lookup TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    invited_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    opened_at TEXT,
    revoked_at TEXT,
    recipient TEXT,
    mail_status TEXT NOT NULL DEFAULT 'not_sent',
    mail_error TEXT,
    mailed_at TEXT,
    recipient_purged_at TEXT,
    UNIQUE (campaign_id, la_code)
);
CREATE INDEX verification_invitations_lookup ON verification_invitations (token_lookup);
CREATE INDEX verification_invitations_la ON verification_invitations (la_code);

CREATE TABLE verification_responses (
    id BIGSERIAL PRIMARY KEY,
    invitation_id BIGINT NOT NULL UNIQUE REFERENCES verification_invitations (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    answers TEXT NOT NULL,
    shown TEXT NOT NULL,
    missing TEXT NOT NULL,
    name TEXT,
    job_title TEXT,
    data_version TEXT NOT NULL,
    outcome TEXT,
    settled_at TEXT,
    settled_by TEXT,
    settle_note TEXT,
    personal_data_purged_at TEXT
);

ALTER TABLE changes ADD COLUMN verification_id BIGINT REFERENCES verification_responses (id);
CREATE INDEX changes_verification ON changes (verification_id);
