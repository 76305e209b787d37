"""Voice: characters speak (text-to-speech), listen (speech-to-text) and take calls (issue 6)."""
