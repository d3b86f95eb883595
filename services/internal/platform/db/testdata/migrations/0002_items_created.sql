ALTER TABLE items ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
