-- Players an admin blocked: they cannot log in and earn no mission rewards.
ALTER TABLE players ADD COLUMN blocked_at BIGINT;    -- Unix ms; NULL = not blocked
ALTER TABLE players ADD COLUMN blocked_reason TEXT;
