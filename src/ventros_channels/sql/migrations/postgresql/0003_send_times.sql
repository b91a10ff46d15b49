-- ventros-channels: outbound answer times (migration 0002).
--
-- Two counters the channel report divides to get the average time the platform takes to
-- answer a send. Rows written before start at 0. Idempotent: safe to run again.

ALTER TABLE channels ADD COLUMN IF NOT EXISTS send_time_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN IF NOT EXISTS timed_sends BIGINT NOT NULL DEFAULT 0;
