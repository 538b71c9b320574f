-- 002_sales.sql — one row per sale; the total is fixed at the time of sale,
-- so a later price change does not rewrite history.
CREATE TABLE sales (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	product_id integer NOT NULL REFERENCES products (id),
	quantity integer NOT NULL CHECK (quantity > 0),
	total_cents bigint NOT NULL CHECK (total_cents >= 0),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sales_product_id_idx ON sales (product_id);
