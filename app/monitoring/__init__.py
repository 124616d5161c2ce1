"""Monthly expiry monitoring on record: each run's buckets, window and licenses, kept as run."""
