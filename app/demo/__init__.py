"""Demo data and the quickstart command."""
