CREATE TABLE orders (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text NOT NULL,
    subject         text NOT NULL,
    user_id         uuid NOT NULL,
    items           jsonb NOT NULL,
    total_cents     bigint NOT NULL CHECK (total_cents > 0),
    currency        text NOT NULL,
    status          text NOT NULL,
    payment_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject, idempotency_key)
);
CREATE INDEX orders_user ON orders (user_id, created_at);
