"""Small domain-free helpers, one concern per module."""
