"""The chat engine: message trees, prompt assembly, generation and streaming."""
