"""License change history: who changed which field, when, from what to what."""
