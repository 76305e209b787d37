"""Helpers shared by the test suites: stand-in servers that speak real protocols."""
