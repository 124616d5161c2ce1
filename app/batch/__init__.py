"""The set-wise batch upsert/delete machinery shared by every VBAPI ``-batch`` resource.

An entity is described once (``EntitySpec``); ``engine.upsert_rows`` and ``engine.delete_rows``
validate, check references and ownership with a constant number of queries, write set-wise and
answer one ``ItemOutcome`` per item.
"""
