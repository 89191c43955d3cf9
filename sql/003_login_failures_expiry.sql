-- Rate-limit rows expire: every recorded login failure deletes rows older
-- than the window ([auth] login_window_s), oldest first, through this index.
-- Login validates the email like register does (at most 254 characters), so
-- no row can be too large for login_failures_idx either (issue 9).
CREATE INDEX login_failures_at_idx ON login_failures (at);
