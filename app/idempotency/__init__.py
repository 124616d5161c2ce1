"""Safe retries of batch requests with an ``Idempotency-Key`` header (SPEC section 4b)."""
