"""Users, passwords, login sessions, API tokens and the sign-up age gate."""
