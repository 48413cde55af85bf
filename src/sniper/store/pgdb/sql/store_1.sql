-- The PostgreSQL store's tables beside orders (orders_1.sql), and its reservation step.
CREATE TABLE items (
    sku_id          text PRIMARY KEY,
    name            text NOT NULL,
    price_cents     bigint NOT NULL,
    stock           bigint NOT NULL CHECK (stock >= 0),
    sale_start      text NOT NULL,
    sale_start_ms   bigint NOT NULL,
    limit_per_user  integer NOT NULL CHECK (limit_per_user >= 1)
);
CREATE TABLE users (
    username        text PRIMARY KEY,
    password_hash   text
);
CREATE TABLE sessions (
    token_hash      text PRIMARY KEY,
    username        text NOT NULL,
    expires_ms      bigint NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);
CREATE TABLE purchases (
    username        text NOT NULL,
    sku_id          text NOT NULL,
    qty             integer NOT NULL,
    PRIMARY KEY (username, sku_id)
);
-- A request id names one order of one user for one item. The store's own rule, not in
-- orders_1.sql: the Redis backend's table must take every order Redis acknowledged.
CREATE UNIQUE INDEX orders_by_item_request ON orders (username, sku_id, request_id)
    WHERE request_id IS NOT NULL;
-- Revoked sessions (logout, user replaced, admin revoke), which every replica reads to drop them
-- from its session cache. Rows are numbered under a lock (see the backend), so that a reader
-- never passes a number whose row has yet to commit. A row goes once its session has expired.
CREATE TABLE revoked_sessions (
    seq             bigserial PRIMARY KEY,
    token_hash      text NOT NULL,
    expires_ms      bigint NOT NULL
);
CREATE INDEX revoked_by_expiry ON revoked_sessions (expires_ms);
-- One row rewritten by the readiness probe (GET /readyz): a real commit, as an order's.
CREATE TABLE readiness (
    id              integer PRIMARY KEY CHECK (id = 1),
    probed_ms       bigint NOT NULL
);

-- The reservation step for a batch of reservations, in one transaction (one call): for each, in
-- the order given, the checks of sniper.store.rules.decide (replay, not_found, not_started,
-- limit_reached, sold_out), then take the stock, count the purchase and insert the order. The
-- batch's items are locked first, in one order, so that replicas' batches never deadlock. A hot
-- item's stock is counted down in memory and written once per run of its reservations (the
-- caller sends each item's together): one row version per batch, not one per order.
CREATE FUNCTION sniper_reserve(
    skus text[], users text[], qtys integer[], rids text[], ids text[], now_ms bigint
) RETURNS TABLE (
    r_outcome text,
    r_order_id text,
    r_qty integer,
    r_created_ms bigint,
    r_stock bigint,
    r_name text,
    r_price_cents bigint,
    r_sale_start text,
    r_sale_start_ms bigint,
    r_limit_per_user integer
) LANGUAGE plpgsql AS $$
DECLARE
    it items%ROWTYPE;
    done orders%ROWTYPE;
    held text;
    have_item boolean := false;
    taken bigint := 0;
    bought integer;
BEGIN
    PERFORM 1 FROM items WHERE sku_id = ANY (skus) ORDER BY sku_id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(skus, 1), 0) LOOP
        r_outcome := NULL; r_order_id := NULL; r_qty := NULL; r_created_ms := NULL;
        r_stock := NULL; r_name := NULL; r_price_cents := NULL; r_sale_start := NULL;
        r_sale_start_ms := NULL; r_limit_per_user := NULL;
        IF held IS DISTINCT FROM skus[i] THEN
            IF taken > 0 THEN
                UPDATE items SET stock = stock - taken WHERE sku_id = held;
            END IF;
            held := skus[i];
            taken := 0;
            SELECT * INTO it FROM items WHERE sku_id = held;
            have_item := FOUND;
        END IF;
        IF rids[i] IS NOT NULL THEN
            SELECT * INTO done FROM orders
            WHERE username = users[i] AND sku_id = held AND request_id = rids[i];
            IF FOUND THEN
                r_outcome := 'replayed'; r_order_id := done.order_id; r_qty := done.qty;
                r_created_ms := done.created_ms;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        IF NOT have_item THEN
            r_outcome := 'not_found';
            RETURN NEXT;
            CONTINUE;
        END IF;
        r_stock := it.stock - taken; r_name := it.name; r_price_cents := it.price_cents;
        r_sale_start := it.sale_start; r_sale_start_ms := it.sale_start_ms;
        r_limit_per_user := it.limit_per_user;
        IF now_ms < it.sale_start_ms THEN
            r_outcome := 'not_started';
        ELSIF r_stock >= qtys[i] AND qtys[i] <= it.limit_per_user THEN
            -- The purchase is counted only if it stays within the limit: no row, limit reached.
            INSERT INTO purchases AS p (username, sku_id, qty) VALUES (users[i], held, qtys[i])
            ON CONFLICT (username, sku_id) DO UPDATE SET qty = p.qty + excluded.qty
                WHERE p.qty + excluded.qty <= it.limit_per_user;
            IF FOUND THEN
                taken := taken + qtys[i];
                INSERT INTO orders (order_id, sku_id, qty, username, created_ms, request_id)
                VALUES (ids[i], held, qtys[i], users[i], now_ms, rids[i]);
                r_outcome := 'created'; r_order_id := ids[i]; r_qty := qtys[i];
                r_created_ms := now_ms; r_stock := r_stock - qtys[i];
            ELSE
                r_outcome := 'limit_reached';
            END IF;
        ELSE
            SELECT coalesce(max(p.qty), 0) INTO bought FROM purchases p
            WHERE p.username = users[i] AND p.sku_id = held;
            r_outcome := CASE WHEN bought + qtys[i] > it.limit_per_user
                THEN 'limit_reached' ELSE 'sold_out' END;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF taken > 0 THEN
        UPDATE items SET stock = stock - taken WHERE sku_id = held;
    END IF;
END $$;
