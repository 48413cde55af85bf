-- The SQLite store's tables, after orders.sql (the orders table, shared with the Redis backend's
-- copy of its orders). Stock can never go negative: the CHECK makes it impossible, not just unlikely.
CREATE TABLE IF NOT EXISTS items (
    sku_id          TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    price_cents     INTEGER NOT NULL,
    stock           INTEGER NOT NULL CHECK (stock >= 0),
    sale_start      TEXT NOT NULL,
    sale_start_ms   INTEGER NOT NULL,
    limit_per_user  INTEGER NOT NULL CHECK (limit_per_user >= 1)
);
CREATE TABLE IF NOT EXISTS users (
    username        TEXT PRIMARY KEY,
    password_hash   TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash      TEXT PRIMARY KEY,
    username        TEXT NOT NULL,
    expires_ms      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS purchases (
    username        TEXT NOT NULL,
    sku_id          TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    PRIMARY KEY (username, sku_id)
) WITHOUT ROWID;
-- A user's orders of an item, and the replay rule: a request id names one order of one user for
-- one item (as on Redis, where the replay check runs inside the item's own script. NULLs are
-- distinct in a unique index, so orders without one never clash.) One index for both: each index
-- keyed by user costs every order a write to a page of its own. Files made before it had the rule
-- in an index of its own (across items in the oldest), and a user's orders in another: both are
-- dropped (the two-column orders_by_user by sqlite.py, before this script runs).
DROP INDEX IF EXISTS orders_by_request;
DROP INDEX IF EXISTS orders_by_item_request;
CREATE UNIQUE INDEX IF NOT EXISTS orders_by_user ON orders (username, sku_id, request_id);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (username);
-- Revoked sessions (logout, user replaced, admin revoke), which every process reads to drop them
-- from its session cache. A row goes once its session would have expired anyway.
CREATE TABLE IF NOT EXISTS revoked_sessions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash      TEXT NOT NULL,
    expires_ms      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_by_expiry ON revoked_sessions (expires_ms);
-- One row rewritten by the readiness probe (GET /readyz): a real commit, as an order's.
CREATE TABLE IF NOT EXISTS readiness (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    probed_ms       INTEGER NOT NULL
);
