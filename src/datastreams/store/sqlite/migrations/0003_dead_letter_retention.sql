-- Retention removes dead letters older than the configured time, oldest first.
CREATE INDEX dead_letters_dead_at ON dead_letters (dead_at);
