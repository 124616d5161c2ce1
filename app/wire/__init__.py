"""What every layer shares about the wire: field types with VBAPI's rules, the base of client
record schemas, item validation (with the schema's fast path) and error wording.

The API, the staff UI, the services and the batch engine all import it; it imports none of them.
"""
