-- ventros-channels: the channels table for PostgreSQL (migration 0001).
--
-- Plain SQL for hosts that run migrations with their own tool (psql, Flyway, sqitch, ...).
-- It is the same schema SqlChannelRepository.create_schema() builds; a test applies both to
-- fresh schemas and compares the catalogs. Idempotent: safe to run again.
--
-- Run it with the target schema first on the search path, for example:
--   SET search_path TO channels_app, public;
-- The table name "channels" is fixed here (create_schema also supports other names).

CREATE TABLE IF NOT EXISTS channels (
    id                UUID NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    project_id        UUID NOT NULL,
    user_id           UUID,
    name              TEXT NOT NULL,
    name_key          TEXT COLLATE "C" NOT NULL,   -- casefold(name): search and name order
    channel_type      VARCHAR(64) NOT NULL,
    status            VARCHAR(32) NOT NULL,
    external_id       TEXT,
    external_key      TEXT COLLATE "C" NOT NULL,   -- casefold(external_id or '')
    pipeline_id       UUID,
    ai_enabled        BOOLEAN NOT NULL,
    ai_agents_enabled BOOLEAN NOT NULL,
    webhook_id        TEXT,
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    deleted_at        TIMESTAMP WITH TIME ZONE,
    version           INTEGER NOT NULL,
    messages_received BIGINT NOT NULL,
    messages_sent     BIGINT NOT NULL,
    errors            BIGINT NOT NULL,
    delivered         BIGINT NOT NULL,
    read              BIGINT NOT NULL,
    failed            BIGINT NOT NULL,
    webhooks_accepted BIGINT NOT NULL,
    webhooks_rejected BIGINT NOT NULL,
    last_message_at   TIMESTAMP WITH TIME ZONE,
    last_webhook_at   TIMESTAMP WITH TIME ZONE,
    last_error_at     TIMESTAMP WITH TIME ZONE,
    last_error        TEXT,
    data              JSONB NOT NULL,              -- the rest of the snapshot
    config            JSONB,                       -- config + retired secrets, when not encrypted
    config_sealed     BYTEA                        -- the same, encrypted by the host's cipher
);

CREATE INDEX IF NOT EXISTS ix_channels_tenant ON channels (tenant_id, created_at);
CREATE INDEX IF NOT EXISTS ix_channels_project ON channels (project_id, tenant_id);
CREATE INDEX IF NOT EXISTS ix_channels_type ON channels (channel_type);
CREATE INDEX IF NOT EXISTS ix_channels_status ON channels (status);
CREATE INDEX IF NOT EXISTS ix_channels_external_id ON channels (external_id, channel_type);
CREATE INDEX IF NOT EXISTS ix_channels_webhook_id ON channels (webhook_id);
CREATE INDEX IF NOT EXISTS ix_channels_active_project
    ON channels (tenant_id, project_id, created_at, id) WHERE status = 'active';

-- Trigram index for search(): only where pg_trgm is installed or may be installed.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); search runs without a trigram index', SQLERRM;
END
$$;

DO $$
DECLARE
    nsp TEXT;
BEGIN
    SELECT n.nspname INTO nsp
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    IF nsp IS NOT NULL THEN
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS ix_channels_search_trgm ON channels'
            ' USING gin (name_key %1$I.gin_trgm_ops, external_key %1$I.gin_trgm_ops)',
            nsp);
    END IF;
END
$$;
