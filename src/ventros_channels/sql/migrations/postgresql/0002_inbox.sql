-- ventros-channels: the inbox of webhook deliveries for PostgreSQL (migration 0002).
--
-- The same schema SqlInbox.create_schema() builds (a test applies both to fresh schemas and
-- compares the catalogs). Idempotent: safe to run again. Run it with the target schema first
-- on the search path, as 0001. The table name "channel_inbox" is fixed here.
--
-- One row per recorded delivery: the unique key (channel_id, idem_key) is the deduplication,
-- the id gives the accept order. Rows go 'ready' -> 'done' (kept, without payload, until
-- SqlInbox.prune() deletes them after the retention period) or 'dead' (kept until replayed
-- or purged).

CREATE TABLE IF NOT EXISTS channel_inbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY,
    channel_id    UUID NOT NULL,
    idem_key      TEXT NOT NULL,                    -- the event's idempotency key
    ordering_key  TEXT NOT NULL,                    -- the chat: handled one at a time, in order
    state         VARCHAR(8) NOT NULL,              -- ready | done | dead
    payload       TEXT,                             -- the delivery as JSON; NULL once done
    attempts      INTEGER NOT NULL,
    available_at  TIMESTAMP WITH TIME ZONE NOT NULL, -- due time (later after a failure)
    leased_until  TIMESTAMP WITH TIME ZONE,
    lease_token   TEXT,
    last_error    TEXT,
    accepted_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at   TIMESTAMP WITH TIME ZONE,         -- when done or dead
    PRIMARY KEY (id),
    CONSTRAINT uq_channel_inbox_key UNIQUE (channel_id, idem_key),
    CONSTRAINT ck_channel_inbox_state CHECK (state IN ('ready', 'done', 'dead'))
);

CREATE INDEX IF NOT EXISTS ix_channel_inbox_chat
    ON channel_inbox (channel_id, ordering_key, id) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS ix_channel_inbox_ready ON channel_inbox (id) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS ix_channel_inbox_held
    ON channel_inbox (channel_id, ordering_key) WHERE state = 'ready' AND leased_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_channel_inbox_done ON channel_inbox (finished_at) WHERE state = 'done';
CREATE INDEX IF NOT EXISTS ix_channel_inbox_dead
    ON channel_inbox (channel_id, id) WHERE state = 'dead';
