-- The orders table, one definition for the SQLite store and for the Redis backend's copy of its
-- orders (--orders-db). A file made by an older release keeps its table as it was (CREATE TABLE IF
-- NOT EXISTS changes no existing table, so a copy made before this file may lack the CHECK), and
-- gets the indexes it lacks. Each file adds its own index of a user's orders: the store's also
-- holds its replay rule (schema.sql), the copy's does not (orders_copy.sql).
CREATE TABLE IF NOT EXISTS orders (
    order_id        TEXT PRIMARY KEY,
    sku_id          TEXT NOT NULL,
    qty             INTEGER NOT NULL CHECK (qty >= 1),
    username        TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    request_id      TEXT
);
CREATE INDEX IF NOT EXISTS orders_by_sku ON orders (sku_id);
