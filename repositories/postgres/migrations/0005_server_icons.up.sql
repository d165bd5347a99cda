-- Issue #17: server icons live in the object store beside avatars; the server row keeps the path they are served at.
ALTER TABLE servers ADD COLUMN icon_url TEXT NOT NULL DEFAULT '';
