"""The Chatwoot source reader: read-only access to one relation of a PostgreSQL database.

- reader.py: `SourceReader`, the reads the sync and the sensor make (describe, verify the
  schema, the newest watermark, count, stream rows or keys in chunks from one snapshot);
- session.py: the pooled engine whose every session and transaction is read-only, with
  statement and lock timeouts;
- relation.py: the relation as the catalog describes it, and the columns every query needs;
- url.py: the database URL, parsed, and its only showable form (password masked);
- errors.py: SourceSchemaError, SourceConnectionError, SourceReadError.

resources/source_db.py (the `source_db` resource) is the entry point assets use.
"""
