"""Integrity review: rules that describe inappropriate updates, run over the history."""
