"""Privacy: per-user encryption keys, sealed text, export and deletion."""
