-- Read model `accounts`: the auth tokens beyond the primary's hash. The tokens themselves are
-- only ever here sealed under the server key (as in the log); NULL for accounts created before
-- tokens were sealed, until they rotate (`/v1/AuthTokens/Secondary`, then `/Promote`).
ALTER TABLE accounts ADD COLUMN auth_token_sealed TEXT;
-- When the current primary token was made (ms since the epoch, UTC); NULL reads as the
-- account's creation.
ALTER TABLE accounts ADD COLUMN auth_token_created BIGINT;
-- The secondary token while it exists: its SHA-256 (it authenticates too), sealed copy and
-- creation time.
ALTER TABLE accounts ADD COLUMN secondary_auth_token_hash TEXT;
ALTER TABLE accounts ADD COLUMN secondary_auth_token_sealed TEXT;
ALTER TABLE accounts ADD COLUMN secondary_auth_token_created BIGINT;
