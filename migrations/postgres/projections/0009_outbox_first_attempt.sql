-- When the first attempt at the URL a row is trying began (ms since the epoch, UTC; NULL until
-- it is first tried, and again when the row moves on to its fallback URL, which has its own
-- budget). Twilio's `tt` bounds an exchange with a URL, retries included, so every attempt
-- and every retry is measured from here, across restarts of the sender.
ALTER TABLE outbox ADD COLUMN first_attempt_at BIGINT;
