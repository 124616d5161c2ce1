"""Staff users, API keys and tokens, per database."""
