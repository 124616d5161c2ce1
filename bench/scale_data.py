"""A large PostgreSQL database built set-wise, for the read measurements of ``--scale``.

``licenses`` licenses under a fifth as many ProviderCreds (ProviderCred 1 holds
:data:`BIG_CRED_LICENSES` of them, the others about five each), one history row per license,
hash-chained as the service chains it, written on the license's entry date (spread over the
last three years, so a date range of the integrity review holds its share of the history).
Dates spread as a health plan's do: about 8 % expired (up to two years ago), 8 % expiring
within 90 days, 2 % without a term date, the rest one to three years ahead; PSV dates mostly
within the window, about 3 % missing and 6 % older than 120 days. Every value is a
deterministic function of the row number (a multiplicative hash), so two runs build the same
database. Everything is ``INSERT … SELECT FROM generate_series``: no row passes through Python.

The tables are left unanalysed on purpose: the reads must use their indexes whatever the
planner's statistics say (``ANALYZE`` is what ``import-licenses`` does; the benchmark can run
once more after it).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

#: The licenses of ProviderCred 1: the grid and license list measured on a large credential.
BIG_CRED_LICENSES = 1000
LICENSE_TYPES = 20
STATES = tuple(
    [
        "TX",
        "CA",
        "NY",
        "FL",
        "IL",
        "PA",
        "OH",
        "GA",
        "NC",
        "MI",
        "NJ",
        "VA",
        "WA",
        "AZ",
        "MA",
        "TN",
        "IN",
        "MO",
        "MD",
        "WI",
        "CO",
        "MN",
        "SC",
        "AL",
        "LA",
        "KY",
        "OR",
        "OK",
        "CT",
        "UT",
        "IA",
        "NV",
        "AR",
        "MS",
        "KS",
        "NM",
        "NE",
        "ID",
        "WV",
        "HI",
        "NH",
        "ME",
        "MT",
        "RI",
        "DE",
        "SD",
        "ND",
        "AK",
        "VT",
        "WY",
    ]
)


#: The tables the build fills (the license types are too few to matter).
LOADED_TABLES = ("provider_cred", "provider_cred_license", "license_change")
SECONDARY_INDEXES = text(
    """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables)
      AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid
                                                  AND c.conrelid = i.indrelid)
    ORDER BY 1
    """
)
FOREIGN_KEYS = text(
    """
    SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
    WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace
      AND t.relname = ANY(:tables)
    ORDER BY 1, 2
    """
)


def build(connection: Connection, licenses: int) -> dict[str, int]:
    """Fill the (migrated, empty) tables; returns the row counts.

    The foreign keys and the secondary indexes of the loaded tables are dropped for the load
    and made again after it, exactly as the migrations defined them (read from the catalog):
    one sort per index instead of a million insertions each, and one join per foreign key
    instead of a lookup per row (at a million licenses, in the benchmark on a shared 2-core
    machine: 45.6 s with the foreign keys during the load, 36.9 s without).
    """
    tables = {"tables": list(LOADED_TABLES)}
    indexes = connection.execute(SECONDARY_INDEXES, tables).all()
    foreign_keys = connection.execute(FOREIGN_KEYS, tables).all()
    for table, name, _ in foreign_keys:
        connection.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        connection.exec_driver_sql(f"DROP INDEX {name}")
    counts = _fill(connection, licenses)
    for _, definition in indexes:
        connection.exec_driver_sql(definition)
    for table, name, definition in foreign_keys:
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    return counts


def _fill(connection: Connection, licenses: int) -> dict[str, int]:
    creds = max(2, licenses // 5)
    others = creds - 1
    big = min(BIG_CRED_LICENSES, licenses // 2)
    params = {"licenses": licenses, "creds": creds, "others": others, "big": big}
    states = "ARRAY[" + ",".join(f"'{s}'" for s in STATES) + "]"
    connection.execute(
        text(
            "INSERT INTO cred_license_type (cred_license_type_key, display, description, "
            "entry_date, update_date) SELECT g, 'TYPE' || g, 'License type ' || g, "
            "now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' "
            "FROM generate_series(1, :types) g"
        ),
        {"types": LICENSE_TYPES},
    )
    connection.execute(
        text(
            "INSERT INTO provider_cred (provider_cred_key, provider_id, cred_type_key, "
            "effective_date, cred_status, specialty_code, entry_date, entry_user, update_date) "
            "SELECT g, 'PRV' || lpad(g::text, 8, '0'), 1, timestamp '2020-01-01', 'Active', "
            "'SP' || (g % 40), now() AT TIME ZONE 'UTC', 'bench', now() AT TIME ZONE 'UTC' "
            "FROM generate_series(1, :creds) g"
        ),
        params,
    )
    # r1 picks the term date, r2 the PSV date: two independent uniform values in [0, 1).
    connection.execute(
        text(
            f"""
            INSERT INTO provider_cred_license (
                provider_cred_license_key, provider_cred_key, cred_license_type_key,
                license_name, license_number, state, specialty_code, effective_date,
                term_date, psv_date, entry_date, entry_user, update_date, update_user)
            SELECT g,
                   CASE WHEN g <= :big THEN 1 ELSE 2 + (g - :big - 1) % :others END,
                   1 + g % {LICENSE_TYPES},
                   'License ' || g,
                   st || '-' || lpad(g::text, 9, '0'),
                   st,
                   'SP' || (g % 40),
                   timestamp '2018-01-01' + (g % 1500) * interval '1 day',
                   CASE WHEN r1 < 0.02 THEN NULL
                        WHEN r1 < 0.10 THEN utc - (r1 - 0.02) / 0.08 * interval '730 days'
                        WHEN r1 < 0.18 THEN utc + (r1 - 0.10) / 0.08 * interval '90 days'
                        ELSE utc + interval '90 days' + (r1 - 0.18) / 0.82 * interval '1000 days'
                   END,
                   CASE WHEN r2 < 0.03 THEN NULL
                        WHEN r2 < 0.09 THEN utc - interval '121 days'
                             - (r2 - 0.03) / 0.06 * interval '600 days'
                        ELSE utc - (r2 - 0.09) / 0.91 * interval '119 days' END,
                   utc - (g % 1095) * interval '1 day', 'bench',
                   utc - (g % 1095) * interval '1 day', 'bench'
            FROM (
                SELECT g,
                       ((g::bigint * 2654435761) % 1000003) / 1000003.0 AS r1,
                       ((g::bigint * 40503 + 12345) % 999983) / 999983.0 AS r2,
                       ({states})[1 + (g::bigint * 7919) % {len(STATES)}] AS st,
                       now() AT TIME ZONE 'UTC' AS utc
                FROM generate_series(1, :licenses) g
            ) AS spread
            """
        ),
        params,
    )
    # Each license's one history row, hash-chained as the license service chains it
    # (app.history.chain: sha256 of GENESIS, a newline and the row's canonical JSON, spelled
    # here as orjson spells it), and its head: the integrity review checks them.
    connection.execute(
        text(
            """
            INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key,
                                        activity_id, at, "user", action, changes, row_hash)
            SELECT k, k, cred, 'bulk-load', at, 'bench', 'created', changes::jsonb,
                   encode(sha256(convert_to(
                       E'\\n[' || k || ',' || cred || ',"bulk-load","'
                       || to_char(at, 'YYYY-MM-DD"T"HH24\\:MI\\:SS.US')
                       || '","bench","created",' || changes || ']', 'UTF8')), 'hex')
            FROM (
                SELECT provider_cred_license_key AS k, provider_cred_key AS cred,
                       entry_date AS at,
                       '{"state":[null,' || to_json(state)::text || '],"term_Date":[null,'
                       || coalesce(to_json(term_date)::text, 'null') || ']}' AS changes
                FROM provider_cred_license
            ) AS history
            """
        )
    )
    connection.execute(
        text(
            "INSERT INTO license_history_head (provider_cred_license_key, row_hash) "
            "SELECT provider_cred_license_key, row_hash FROM license_change"
        )
    )
    connection.execute(
        text("SELECT setval(pg_get_serial_sequence('license_change', 'id'), :n)"),
        {"n": licenses},
    )
    return {"licenses": licenses, "provider_creds": creds, "history": licenses}
