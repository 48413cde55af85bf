-- The orders table on PostgreSQL: the store's own (--store postgresql://) and the Redis backend's
-- table of record (--orders-db postgresql://), one definition for both (as backends/orders.sql is
-- on SQLite). Stock can never go negative and no order is for less than one unit: the CHECKs make
-- it impossible, not just unlikely.
CREATE TABLE orders (
    order_id        text PRIMARY KEY,
    sku_id          text NOT NULL,
    qty             integer NOT NULL CHECK (qty >= 1),
    username        text NOT NULL,
    created_ms      bigint NOT NULL,
    request_id      text
);
CREATE INDEX orders_by_sku ON orders (sku_id);
CREATE INDEX orders_by_user ON orders (username, sku_id);
