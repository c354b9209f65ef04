"""What the database is doing: the slowest statements, connections, bloat and unused indexes.

Read from PostgreSQL's own statistics views, for the platform admins' page (/admin/database/)
and `manage.py database_report`. Slow statements come from `pg_stat_statements` where the server
loads it; everywhere else each process logs any statement slower than DATABASE_SLOW_STATEMENT_MS
(the statement timer every connection already has: config.operations.metrics.observe_query), so
a slow query is never invisible.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from config.row_security import platform_wide


@dataclass(frozen=True)
class Table:
    """A titled table of rows, as both the page and the command show it."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple]
    note: str = ""


def database_report(limit: int = 15) -> list[Table]:
    """Platform-wide: the server's statistics as the owner reads them (the app role would see
    other sessions' statements masked)."""
    with platform_wide("database report: the server's statistics"):
        return [
            slowest_statements(limit),
            connection_states(),
            table_bloat(limit),
            index_bloat(limit),
            unused_indexes(limit),
        ]


def slowest_statements(limit: int) -> Table:
    columns = ("statement", "calls", "total ms", "mean ms", "rows")
    if not _has_pg_stat_statements():
        return Table(
            "Slowest statements", columns, [],
            note=(
                "pg_stat_statements is not loaded on this server (shared_preload_libraries, "
                "then CREATE EXTENSION pg_stat_statements). Until then every process logs "
                f"statements slower than {settings.DATABASE_SLOW_STATEMENT_MS} ms to the "
                "platform.slow_statements logger."
            ),
        )  # fmt: skip
    rows = _rows(
        """SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 300), calls,
                  round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 2), rows
           FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           ORDER BY total_exec_time DESC LIMIT %s""",
        [limit],
    )
    return Table("Slowest statements", columns, rows, note="By total time, since the last reset.")


def connection_states() -> Table:
    rows = _rows(
        """SELECT coalesce(state, 'background'), coalesce(wait_event_type, ''), count(*),
                  coalesce(max(extract(epoch FROM now() - xact_start))::int, 0)
           FROM pg_stat_activity WHERE datname = current_database()
           GROUP BY 1, 2 ORDER BY 3 DESC"""
    )
    limit = _rows("SHOW max_connections")[0][0]
    total = _rows("SELECT count(*) FROM pg_stat_activity")[0][0]
    return Table(
        "Connections", ("state", "waiting on", "connections", "oldest transaction s"), rows,
        note=f"{total} of max_connections {limit} in use on the server.",
    )  # fmt: skip


def table_bloat(limit: int) -> Table:
    """Dead rows per table: what autovacuum has yet to reclaim."""
    rows = _rows(
        """SELECT relname, n_live_tup, n_dead_tup,
                  round(100.0 * n_dead_tup / greatest(n_live_tup + n_dead_tup, 1), 1),
                  pg_size_pretty(pg_total_relation_size(relid)),
                  to_char(greatest(last_autovacuum, last_vacuum), 'YYYY-MM-DD HH24:MI')
           FROM pg_stat_user_tables
           ORDER BY n_dead_tup DESC, pg_total_relation_size(relid) DESC LIMIT %s""",
        [limit],
    )
    return Table(
        "Table bloat",
        ("table", "live rows", "dead rows", "dead %", "size", "last vacuum (UTC)"),
        rows,
        note="A dead share that stays above 20 % means autovacuum cannot keep up.",
    )


def index_bloat(limit: int) -> Table:
    """B-tree indexes larger than their rows need, estimated from the planner's statistics.

    The expected size is the row count times the indexed columns' average width plus the
    tuple header, packed at the default fill factor; the rest is bloat (REINDEX CONCURRENTLY
    gives it back). An estimate: exact figures need the pgstattuple extension.
    """
    rows = _rows(
        """WITH widths AS (
               SELECT i.indexrelid, c.reltuples, c.relpages,
                      sum(coalesce(s.avg_width, 8)) AS width
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               LEFT JOIN pg_stats s ON s.schemaname = 'public'
                    AND s.tablename = (SELECT relname FROM pg_class WHERE oid = i.indrelid)
                    AND s.attname = a.attname
               WHERE c.relnamespace = 'public'::regnamespace AND c.relpages > 10
               GROUP BY i.indexrelid, c.reltuples, c.relpages
           ), estimated AS (
               SELECT indexrelid, relpages,
                      ceil(reltuples * (width + 16) / (current_setting('block_size')::int * 0.9))
                          AS expected_pages
               FROM widths
           )
           SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid)),
                  round((100.0 * greatest(relpages - expected_pages, 0) / relpages)::numeric, 1)
           FROM estimated ORDER BY relpages - expected_pages DESC LIMIT %s""",
        [limit],
    )
    return Table(
        "Index bloat (estimate)", ("index", "size", "bloat %"), rows,
        note="Indexes under 10 pages are left out. REINDEX INDEX CONCURRENTLY rebuilds one.",
    )  # fmt: skip


def unused_indexes(limit: int) -> Table:
    """Indexes no query has used since the statistics were reset, that no constraint needs."""
    rows = _rows(
        """SELECT s.relname, s.indexrelname, pg_size_pretty(pg_relation_size(s.indexrelid)),
                  s.idx_scan
           FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
           WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
           ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname LIMIT %s""",
        [limit],
    )
    reset = _rows(
        """SELECT coalesce(to_char(stats_reset, 'YYYY-MM-DD HH24:MI'), 'the server start')
           FROM pg_stat_database WHERE datname = current_database()"""
    )[0][0]
    return Table(
        "Unused indexes", ("table", "index", "size", "scans"), rows,
        note=f"No scan since {reset} (UTC). Check a replica's statistics before dropping one.",
    )  # fmt: skip


def _has_pg_stat_statements() -> bool:
    return bool(
        _rows(
            """SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'
               AND 'pg_stat_statements' = ANY(
                   string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''),
                                   ','))"""
        )
    )


def _rows(query: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()
