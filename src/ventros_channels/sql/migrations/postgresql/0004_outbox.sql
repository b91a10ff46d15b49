-- ventros-channels: the outbox of outbound sends for PostgreSQL (migration 0004).
--
-- The same schema SqlOutbox.create_schema() builds. Idempotent: safe to run again. Run it
-- with the target schema first on the search path, as 0001.
--
-- One row per send, unique by (channel_id, idem_key): a second send with the same key finds
-- the row instead of calling the platform. Queued sends of a chat go out in seq order.

CREATE TABLE IF NOT EXISTS channel_outbox (
    seq           BIGSERIAL NOT NULL,
    channel_id    UUID NOT NULL,
    idem_key      TEXT NOT NULL,
    tenant_id     TEXT NOT NULL,
    chat_id       TEXT NOT NULL,
    state         VARCHAR(16) NOT NULL,             -- queued | pending | sent | failed | uncertain
    message       BYTEA,                            -- the queued message (JSON); NULL for direct sends
    attempts      INTEGER NOT NULL,
    message_id    TEXT,                             -- the platform's id once sent
    error_type    VARCHAR(128),
    error         TEXT,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    available_at  TIMESTAMP WITH TIME ZONE,
    lease_token   TEXT,
    leased_until  TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (seq),
    CONSTRAINT uq_channel_outbox_key UNIQUE (channel_id, idem_key)
);

CREATE INDEX IF NOT EXISTS ix_channel_outbox_state ON channel_outbox (state, created_at);
CREATE INDEX IF NOT EXISTS ix_channel_outbox_queue
    ON channel_outbox (channel_id, chat_id, seq) WHERE state = 'queued' OR lease_token IS NOT NULL;
