CREATE TABLE items (id text PRIMARY KEY, name text NOT NULL);
