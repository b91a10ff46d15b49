-- ventros-channels: the domain-event outbox for PostgreSQL (migration 0005).
--
-- Used by SqlChannelRepository(event_outbox=True): a save writes its events here in the same
-- transaction as the channel row, and EventRelay publishes them in id order. Idempotent.

CREATE TABLE IF NOT EXISTS channel_events (
    id            BIGSERIAL NOT NULL,
    event_id      UUID NOT NULL,
    channel_id    UUID NOT NULL,
    tenant_id     TEXT NOT NULL,
    event_type    VARCHAR(128) NOT NULL,
    payload       JSONB NOT NULL,                   -- ChannelEvent.to_dict(): never a secret
    occurred_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    published_at  TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT uq_channel_events_event_id UNIQUE (event_id)
);

CREATE INDEX IF NOT EXISTS ix_channel_events_unpublished
    ON channel_events (id) WHERE published_at IS NULL;
