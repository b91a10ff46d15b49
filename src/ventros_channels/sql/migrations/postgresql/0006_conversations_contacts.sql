-- ventros-channels: conversations and contact aliases for PostgreSQL (migration 0006).
--
-- The same tables SqlConversationStore.create_schema() and SqlContactAliasStore.create_schema()
-- build (Alembic revision vc0002). Idempotent: safe to run again. Run it with the target
-- schema first on the search path, as 0001.

-- One row per channel and chat: the seed's sessions and the times messaging windows use.
CREATE TABLE IF NOT EXISTS channel_conversations (
    channel_id          UUID NOT NULL,
    chat_id             TEXT NOT NULL,
    tenant_id           TEXT NOT NULL,
    first_seen_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    session_started_at  TIMESTAMP WITH TIME ZONE,
    last_inbound_at     TIMESTAMP WITH TIME ZONE,
    last_outbound_at    TIMESTAMP WITH TIME ZONE,
    expires_at          TIMESTAMP WITH TIME ZONE,  -- the running session ends then
    closed_at           TIMESTAMP WITH TIME ZONE,  -- the host closed the session
    pipeline_id         UUID,
    sessions            INTEGER NOT NULL,          -- sessions started in this chat
    version             INTEGER NOT NULL,          -- optimistic concurrency
    PRIMARY KEY (channel_id, chat_id)
);

CREATE INDEX IF NOT EXISTS ix_channel_conversations_expires
    ON channel_conversations (channel_id, expires_at);
CREATE INDEX IF NOT EXISTS ix_channel_conversations_started
    ON channel_conversations (channel_id, session_started_at);

-- One row per id of a person on a channel; rows with one group_id are one person.
CREATE TABLE IF NOT EXISTS contact_aliases (
    tenant_id   TEXT NOT NULL,
    channel_id  UUID NOT NULL,
    alias       TEXT NOT NULL,
    group_id    UUID NOT NULL,
    linked_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (tenant_id, channel_id, alias)
);

CREATE INDEX IF NOT EXISTS ix_contact_aliases_group
    ON contact_aliases (tenant_id, channel_id, group_id);
