"""Memory: what a character remembers and knows. Today: the lorebook engine."""
