-- The Redis backend's copy of its orders (--orders-db), after orders.sql: a user's orders, without
-- the store's replay rule. The copy must take every order Redis acknowledged (a unique index here
-- would fail a batch over an order Redis took), and Redis already keeps a request id to one order.
CREATE INDEX IF NOT EXISTS orders_by_user ON orders (username, sku_id);
