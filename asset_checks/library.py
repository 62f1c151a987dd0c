"""Check builders: one declaration per table gives its standard checks.

`table_checks(TableCheck(...))` returns one standalone `@multi_asset_check` (it can be run
alone, from the UI or `dagster asset check`, and runs after the asset in any job that
selects it) with these checks, each reporting its figures as metadata:

- `columns` (blocking, ERROR): every column of the table's contract is present with its
  type (the seed's REQUIRED_COLUMNS guard). Downstream assets of the same run do not run on
  a table that lost a column or had one narrowed.
- `row_count`: the table has rows once the asset has materialized, and the newest
  partition's count is within a band around the median of the 14 partitions of the same
  kind before it (WARN outside `warn_ratio`, ERROR outside `error_ratio`). Where the history
  comes from is the table's `history`: `DailyHistory` counts the table's own rows per day of
  each account on the days ops.pulled_days says were pulled (a day pulled empty counts 0;
  the instance's `dagster/row_count` cannot be used there: a single-run backfill records
  the range's total on every day of it); `TenantHistory` compares each tenant's rows now
  with the `rows_total` of its successful runs of the 14 days before the newest one
  (ops.etl_control).
- `key_unique` (ERROR): no two rows share the key; cheap where a primary key or unique
  constraint on exactly those columns enforces it (the constraint is named in metadata),
  else the duplicates are counted and sampled.
- `no_pii` (ERROR, opt-in for tables past staging): no column the contract marks `pii` and no
  text value that looks like an e-mail address or a phone number (key and column sampled,
  never the value). On a table the change ledger tracks, only the rows of the (scope, day)
  units written since the check last passed are scanned (the whole table before its first
  pass; its cursor does not move on a failure, so what it found is scanned until it is gone);
  other tables are scanned whole;
- `quarantined` (WARN, opt-in where the asset does not already evaluate
  asset_checks/rejected_values.py itself): the values the latest materialization's run
  could not store (ops.rejected_values).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)
from psycopg import sql
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

from resources.warehouse import Warehouse
from vetorial_assets.settings import DEFAULT_TIMEZONE
from vetorial_assets.warehouse.ledger import Changes, advance, read_changes
from vetorial_assets.warehouse.tables import ledger_cursors

from . import rejected_values

COLUMNS, ROW_COUNT, KEY_UNIQUE, QUARANTINED, NO_PII = "columns", "row_count", "key_unique", "quarantined", "no_pii"
# Personal data in a text value: an e-mail address, or a phone number (Brazilian, with or
# without the country code: a run of 10 to 13 digits with the usual separators; the ids of
# Meta and Instagram are longer runs). PostgreSQL regular expressions.
PII_PATTERNS = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    # Not inside a longer token: a hex digest (hash_id, contact_key) holds digit runs too.
    "phone": r"(^|[^0-9A-Za-z])(\+?[0-9]{2}[ .-]?)?\(?[0-9]{2}\)?[ .-]?9?[0-9]{4}[ .-]?[0-9]{4}([^0-9A-Za-z]|$)",
}
# Cheap tests a value must pass before its expression is tried (they cannot reject a match:
# an e-mail holds an '@'; a phone bounded by the start, the end or a character that is not a
# letter or digit is, in a value of letters and digits only, the whole value: 10-13 digits).
PII_PREFILTERS = {
    "email": "strpos({c}, '@') > 0",
    "phone": "(length({c}) BETWEEN 10 AND 13 OR {c} ~ '[^0-9A-Za-z]')",
}
HISTORY_DAYS = 14
# Fewer earlier partitions than this: no band (a median of one or two says little).
MIN_HISTORY = 3
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class DailyHistory:
    """Date x account tables: rows per day of each account, on the days the pull recorded."""

    account_column: str
    day_column: str
    # The ops.pulled_days source (the asset key of the pull), e.g. raw/meta_ads_insights.
    pulled_by: str


@dataclass(frozen=True)
class TenantHistory:
    """Tenant tables: rows of each tenant now vs its successful runs' rows_total (ops.etl_control)."""

    tenant_column: str
    # ops.etl_control.asset_key of the loads.
    asset_key: str
    # Rows counted now: a condition on the table (e.g. not soft-deleted), as SQL text.
    live_condition: str | None = None


@dataclass(frozen=True)
class TableCheck:
    asset: AssetKey
    table: Table
    key: Sequence[str] = ()  # default: the table's primary key
    history: DailyHistory | TenantHistory | None = None
    must_have_rows: bool = True
    warn_ratio: float = 2.0  # WARN when the count is below median / 2 or above median * 2
    error_ratio: float = 10.0  # ERROR when below median / 10 or above median * 10
    quarantined: bool = False
    # Past staging (model, mart): no column marked personal data, no text value that looks like it.
    no_pii: bool = False
    blocking_columns: bool = True

    @property
    def key_columns(self) -> list[str]:
        return list(self.key) or [c.name for c in self.table.primary_key.columns]

    @property
    def name(self) -> str:
        return "_".join(self.asset.path) + "_table_checks"


def _ident(table: Table) -> sql.Composable:
    return sql.Identifier(table.schema, table.name)


# --------------------------------------------------------------------------- columns


def expected_types(table: Table) -> dict[str, str]:
    """Column -> its contract type as SQL (Postgres normalizes it with ::regtype)."""
    dialect = postgresql.dialect()
    return {c.name: c.type.compile(dialect=dialect) for c in table.columns}


def evaluate_columns(conn, spec: TableCheck) -> AssetCheckResult:
    table = spec.table
    actual = dict(
        conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (f'"{table.schema}"."{table.name}"',),
        ).fetchall()
    )
    expected = expected_types(table)
    # Every contract type normalized by the server in one query (not one per column).
    normalized = conn.execute(
        "SELECT format_type(t::regtype, NULL) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i",
        (list(expected.values()),),
    ).fetchall()
    missing, wrong = [], []
    for name, (want,) in zip(expected, normalized):
        if name not in actual:
            missing.append(name)
        elif actual[name] != want:
            wrong.append(f"{name}: {actual[name]} (contract: {want})")
    exists = bool(actual)
    passed = exists and not missing and not wrong
    return AssetCheckResult(
        check_name=COLUMNS,
        asset_key=spec.asset,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "table": table.fullname,
            "columns_expected": len(table.columns),
            "columns_found": len(actual),
            "missing_columns": MetadataValue.json(missing),
            "wrong_types": MetadataValue.json(wrong),
        },
        description=None
        if passed
        else (
            f"{table.fullname} does not exist"
            if not exists
            else f"{table.fullname}: missing {missing or 'none'}, wrong type {wrong or 'none'}"
        ),
    )


def _exists(conn, table: Table) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{table.schema}"."{table.name}"',)).fetchone()[0]


# --------------------------------------------------------------------------- key


def _unique_constraint(conn, table: Table, columns: list[str]) -> str | None:
    row = conn.execute(
        "SELECT c.conname FROM pg_constraint c WHERE c.conrelid = to_regclass(%s) AND c.contype IN ('p', 'u') "
        "AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a "
        "     WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) = %s",
        (f'"{table.schema}"."{table.name}"', sorted(columns)),
    ).fetchone()
    return row[0] if row else None


def evaluate_key(conn, spec: TableCheck) -> AssetCheckResult:
    columns = spec.key_columns
    constraint = _unique_constraint(conn, spec.table, columns)
    if constraint:
        return AssetCheckResult(
            check_name=KEY_UNIQUE,
            asset_key=spec.asset,
            passed=True,
            metadata={"key": ", ".join(columns), "enforced_by": constraint, "duplicate_keys": 0},
        )
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    query = sql.SQL("SELECT {cols}, count(*) AS n FROM {t} GROUP BY {cols} HAVING count(*) > 1").format(
        cols=cols, t=_ident(spec.table)
    )
    count = conn.execute(sql.SQL("SELECT count(*), coalesce(sum(n), 0) FROM ({q}) d").format(q=query)).fetchone()
    sample = [
        dict(zip([*columns, "rows"], [str(v) if not isinstance(v, int) else v for v in row]))
        for row in conn.execute(query + sql.SQL(" LIMIT {}").format(sql.Literal(SAMPLE_SIZE))).fetchall()
    ]
    return AssetCheckResult(
        check_name=KEY_UNIQUE,
        asset_key=spec.asset,
        passed=count[0] == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "key": ", ".join(columns),
            "enforced_by": "none (scanned)",
            "duplicate_keys": count[0],
            "rows_with_duplicate_keys": int(count[1]),
            "sample": MetadataValue.json(sample),
        },
        description=None if count[0] == 0 else f"{count[0]} key(s) of ({', '.join(columns)}) appear more than once",
    )


# --------------------------------------------------------------------------- row count


@dataclass(frozen=True)
class Partition:
    """The newest partition of one group (an account, a tenant) and its history."""

    group: str
    label: str
    rows: int
    history: list[int]

    @property
    def median(self) -> float | None:
        return statistics.median(self.history) if len(self.history) >= MIN_HISTORY else None


def _daily_partitions(conn, spec: TableCheck, history: DailyHistory) -> list[Partition]:
    query = sql.SQL(
        "WITH newest AS (SELECT partition, max(day) AS day FROM ops.pulled_days WHERE source = %(source)s "
        "                GROUP BY partition), "
        "days AS (SELECT p.partition, p.day, p.day = n.day AS is_newest FROM ops.pulled_days p "
        "         JOIN newest n USING (partition) "
        "         WHERE p.source = %(source)s AND p.day BETWEEN n.day - %(days)s AND n.day), "
        "counts AS (SELECT {acc} AS partition, {day} AS day, count(*) AS n FROM {t} "
        "           WHERE ({acc}, {day}) IN (SELECT partition, day FROM days) GROUP BY 1, 2) "
        "SELECT d.partition, d.day, d.is_newest, coalesce(c.n, 0) FROM days d "
        "LEFT JOIN counts c USING (partition, day) ORDER BY d.partition, d.day"
    ).format(acc=sql.Identifier(history.account_column), day=sql.Identifier(history.day_column), t=_ident(spec.table))
    groups: dict[str, dict] = {}
    for partition, day, is_newest, n in conn.execute(
        query, {"source": history.pulled_by, "days": HISTORY_DAYS}
    ).fetchall():
        group = groups.setdefault(partition, {"history": [], "newest": None})
        if is_newest:
            group["newest"] = (day, n)
        else:
            group["history"].append(n)
    return [
        Partition(p, f"{p} {g['newest'][0]}", g["newest"][1], g["history"])
        for p, g in sorted(groups.items())
        if g["newest"] is not None
    ]


def _tenant_partitions(conn, spec: TableCheck, history: TenantHistory) -> list[Partition]:
    condition = sql.SQL(history.live_condition) if history.live_condition else sql.SQL("true")
    now = dict(
        conn.execute(
            sql.SQL("SELECT {ten}, count(*) FROM {t} WHERE {cond} GROUP BY 1").format(
                ten=sql.Identifier(history.tenant_column), t=_ident(spec.table), cond=condition
            )
        ).fetchall()
    )
    runs = conn.execute(
        "WITH newest AS (SELECT tenant_id, max(completed_at) AS at FROM ops.etl_control "
        "                WHERE asset_key = %(key)s AND status = 'success' GROUP BY tenant_id) "
        "SELECT e.tenant_id, e.rows_total FROM ops.etl_control e JOIN newest n USING (tenant_id) "
        "WHERE e.asset_key = %(key)s AND e.status = 'success' AND e.rows_total IS NOT NULL "
        "AND e.completed_at >= n.at - make_interval(days => %(days)s) AND e.completed_at < n.at "
        "ORDER BY e.tenant_id, e.completed_at",
        {"key": history.asset_key, "days": HISTORY_DAYS},
    ).fetchall()
    earlier: dict[str, list[int]] = {}
    for tenant, total in runs:
        earlier.setdefault(tenant, []).append(int(total))
    tenants = sorted(set(now) | set(earlier))
    return [Partition(t, t, int(now.get(t, 0)), earlier.get(t, [])) for t in tenants]


def evaluate_row_count(conn, spec: TableCheck, materialized: bool) -> AssetCheckResult:
    total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(spec.table))).fetchone()[0]
    partitions: list[Partition] = []
    if isinstance(spec.history, DailyHistory):
        partitions = _daily_partitions(conn, spec, spec.history)
    elif isinstance(spec.history, TenantHistory):
        partitions = _tenant_partitions(conn, spec, spec.history)
    errors, warnings, judged = [], [], []
    for p in partitions:
        median = p.median
        if median is None:
            continue
        entry = {"partition": p.label, "rows": p.rows, "median_14": median, "history_points": len(p.history)}
        judged.append(entry)
        low_err, high_err = median / spec.error_ratio, median * spec.error_ratio
        low_warn, high_warn = median / spec.warn_ratio, median * spec.warn_ratio
        if (median > 0 and p.rows == 0) or not (low_err <= p.rows <= high_err):
            errors.append(entry)
        elif not (low_warn <= p.rows <= high_warn):
            warnings.append(entry)
    empty = spec.must_have_rows and materialized and total == 0
    passed = not empty and not errors and not warnings
    severity = AssetCheckSeverity.ERROR if (empty or errors) else AssetCheckSeverity.WARN
    if empty:
        description = f"{spec.table.fullname} is empty although the asset has materialized"
    elif errors or warnings:
        worst = (errors or warnings)[0]
        description = (
            f"{len(errors)} partition(s) far outside, {len(warnings)} outside the band around the "
            f"{HISTORY_DAYS}-day median; e.g. {worst['partition']}: {worst['rows']} rows vs median "
            f"{worst['median_14']}"
        )
    else:
        description = None
    return AssetCheckResult(
        check_name=ROW_COUNT,
        asset_key=spec.asset,
        passed=passed,
        severity=severity,
        metadata={
            "rows": total,
            "partitions_judged": len(judged),
            "partitions_without_history": len(partitions) - len(judged),
            "history_source": _history_source(spec),
            "band": f"WARN outside median/{spec.warn_ratio:g}..median*{spec.warn_ratio:g}, "
            f"ERROR outside median/{spec.error_ratio:g}..median*{spec.error_ratio:g}",
            "outside_error_band": MetadataValue.json(errors[:SAMPLE_SIZE]),
            "outside_warn_band": MetadataValue.json(warnings[:SAMPLE_SIZE]),
            "sample": MetadataValue.json(judged[:SAMPLE_SIZE]),
        },
        description=description,
    )


def _history_source(spec: TableCheck) -> str:
    if isinstance(spec.history, DailyHistory):
        return f"{spec.table.fullname} rows per day on the days in ops.pulled_days ({spec.history.pulled_by})"
    if isinstance(spec.history, TenantHistory):
        return f"ops.etl_control.rows_total of successful runs ({spec.history.asset_key})"
    return "none (non-empty only)"


# --------------------------------------------------------------------------- personal data


def pii_consumer(spec: TableCheck) -> str:
    """The no_pii check's cursor in the change ledger (ops.ledger_cursors)."""
    return f"check/{spec.asset.to_user_string()}/{NO_PII}"


def pii_changes(warehouse: Warehouse, spec: TableCheck) -> Changes | None:
    """For a table the change ledger tracks: the (scope, day) units written since the check
    last passed (`full` before its first pass). None: untracked, scanned whole every time."""
    if not spec.no_pii or "ledger" not in spec.table.info:
        return None
    with warehouse.transaction() as conn:
        if not (_exists(conn, spec.table) and _exists(conn, ledger_cursors)):
            return None  # nothing to read: the evaluation says the table does not exist
    return read_changes(warehouse.engine(), pii_consumer(spec), [spec.table.fullname])


def _pii_scope(table: Table, changes: Changes | None) -> tuple[sql.Composable, dict, str]:
    """(FROM clause, its parameters, what is scanned): the whole table, or only the rows of the
    changed units plus any row the ledger cannot place (a NULL scope or day)."""
    if changes is None or changes.full:
        return _ident(table), {}, "all rows"
    scope_col, day_col, *fallback = table.info["ledger"]
    # As the ledger's trigger places a row (warehouse/ledger_sql/record_changed_days.sql).
    scope_expr = sql.SQL("t.{}").format(sql.Identifier(scope_col))
    day_expr = sql.SQL("t.{}").format(sql.Identifier(day_col))
    if fallback:
        day_expr = sql.SQL("coalesce({}, (t.{} AT TIME ZONE {})::date)").format(
            day_expr, sql.Identifier(fallback[0]), sql.Literal(DEFAULT_TIMEZONE)
        )
    units = sorted(changes.units.get(table.fullname, ()))
    unplaced = sql.SQL("SELECT t.* FROM {} t WHERE {} IS NULL OR {} IS NULL").format(
        _ident(table), scope_expr, day_expr
    )
    params = {"scopes": [u[0] for u in units], "days": [u[1] for u in units]}
    if units:
        changed = sql.SQL(
            "SELECT t.* FROM {} t JOIN unnest(%(scopes)s::text[], %(days)s::date[]) AS u(unit_scope, unit_day) "
            "ON CAST({} AS text) = u.unit_scope AND {} = u.unit_day"
        ).format(_ident(table), scope_expr, day_expr)
        source = sql.SQL("({} UNION ALL {}) AS scanned").format(changed, unplaced)
    else:
        source = sql.SQL("({}) AS scanned").format(unplaced)
    return source, params, f"rows of {len(units)} changed (scope, day) unit(s) since the last pass"


def evaluate_no_pii(conn, spec: TableCheck, changes: Changes | None = None) -> AssetCheckResult:
    """Columns the contract marks `pii`, and text values matching PII_PATTERNS, with the key
    and column of a sample (the value itself is never shown: it is what must not be there).
    One pass over the rows in scope; a cheap test before each expression skips the values it
    cannot match (no '@': no e-mail; only letters and digits: a phone only if the whole value
    is 10 to 13 characters long)."""
    marked = sorted(c.name for c in spec.table.columns if c.info.get("pii"))
    text_columns = [
        name
        for name, type_sql in expected_types(spec.table).items()
        if type_sql.upper() in ("TEXT", "VARCHAR") or type_sql.upper().startswith("VARCHAR")
    ]
    key = spec.key_columns
    source, params, scanned = _pii_scope(spec.table, changes)
    conditions = {
        (column, kind): sql.SQL(PII_PREFILTERS[kind] + " AND {c} ~ {p}").format(
            c=sql.Identifier(column), p=sql.Placeholder(f"pattern_{kind}")
        )
        for column in text_columns
        for kind in PII_PATTERNS
    }
    params |= {f"pattern_{kind}": pattern for kind, pattern in PII_PATTERNS.items()}
    found, sample, rows_scanned = {}, [], 0
    if conditions:
        counts = conn.execute(
            sql.SQL("SELECT count(*), {} FROM {}").format(
                sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {})").format(c) for c in conditions.values()),
                source,
            ),
            params,
        ).fetchone()
        rows_scanned = counts[0]
        for (column, kind), count in zip(conditions, counts[1:]):
            if not count:
                continue
            found[f"{column} ({kind})"] = count
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {} WHERE {} LIMIT {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, key)),
                    source,
                    conditions[(column, kind)],
                    sql.Literal(SAMPLE_SIZE),
                ),
                params,
            ).fetchall()
            sample += [{"column": column, "kind": kind, "key": dict(zip(key, map(str, row)))} for row in rows]
    passed = not marked and not found
    return AssetCheckResult(
        check_name=NO_PII,
        asset_key=spec.asset,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "pii_columns_in_contract": MetadataValue.json(marked),
            "rows_with_pii_like_values": MetadataValue.json(found),
            "text_columns_scanned": len(text_columns),
            "scanned": scanned,
            "rows_scanned": rows_scanned,
            "sample": MetadataValue.json(sample[:SAMPLE_SIZE]),
        },
        description=None
        if passed
        else f"{spec.table.fullname}: personal data past staging "
        f"(columns marked pii: {marked or 'none'}; values like it: {found or 'none'})",
    )


# --------------------------------------------------------------------------- the check definition


def check_specs(spec: TableCheck) -> list[AssetCheckSpec]:
    specs = [
        AssetCheckSpec(
            COLUMNS,
            asset=spec.asset,
            blocking=spec.blocking_columns,
            description=f"Every column of {spec.table.fullname}'s contract is present with its type.",
        ),
        AssetCheckSpec(
            ROW_COUNT,
            asset=spec.asset,
            description=f"Rows present once materialized; the newest partition within "
            f"median/{spec.warn_ratio:g}..x{spec.warn_ratio:g} (WARN) and "
            f"median/{spec.error_ratio:g}..x{spec.error_ratio:g} (ERROR) of the "
            f"{HISTORY_DAYS} before it.",
        ),
        AssetCheckSpec(KEY_UNIQUE, asset=spec.asset, description=f"No two rows share ({', '.join(spec.key_columns)})."),
    ]
    if spec.no_pii:
        specs.append(
            AssetCheckSpec(
                NO_PII,
                asset=spec.asset,
                description="No personal data past staging: no column marked pii, no e-mail or phone-like text value.",
            )
        )
    if spec.quarantined:
        specs.append(
            AssetCheckSpec(
                QUARANTINED,
                asset=spec.asset,
                description="Values the latest materialization's run could not store "
                "(ops.rejected_values): WARN with counts and a sample.",
            )
        )
    return specs


def evaluate(conn, spec: TableCheck, latest_run_id: str | None, pii: Changes | None = None) -> list[AssetCheckResult]:
    results = [evaluate_columns(conn, spec)]
    if not _exists(conn, spec.table):
        # No table: nothing else can be counted; each check says so.
        return (
            results
            + [
                AssetCheckResult(
                    check_name=name,
                    asset_key=spec.asset,
                    passed=False,
                    severity=AssetCheckSeverity.ERROR,
                    description=f"{spec.table.fullname} does not exist",
                )
                for name in (ROW_COUNT, KEY_UNIQUE) + ((NO_PII,) if spec.no_pii else ())
            ]
            + (
                [
                    AssetCheckResult(
                        check_name=QUARANTINED, asset_key=spec.asset, passed=True, severity=AssetCheckSeverity.WARN
                    )
                ]
                if spec.quarantined
                else []
            )
        )
    results.append(evaluate_row_count(conn, spec, materialized=latest_run_id is not None))
    results.append(evaluate_key(conn, spec))
    if spec.no_pii:
        results.append(evaluate_no_pii(conn, spec, pii))
    if spec.quarantined:
        result = rejected_values.evaluate(conn, spec.asset, latest_run_id or "")
        results.append(
            AssetCheckResult(
                check_name=QUARANTINED,
                asset_key=spec.asset,
                passed=result.passed,
                severity=AssetCheckSeverity.WARN,
                metadata=result.metadata,
                description=result.description,
            )
        )
    return results


def table_checks(spec: TableCheck) -> AssetChecksDefinition:
    """The standalone checks of one table (one op, every check of `check_specs`)."""

    @multi_asset_check(
        name=spec.name,
        specs=check_specs(spec),
        can_subset=True,
        description=f"Standard checks of {spec.table.fullname}",
    )
    def _checks(context, warehouse: Warehouse):  # AssetCheckExecutionContext
        event = context.instance.get_latest_materialization_event(spec.asset)
        pii = pii_changes(warehouse, spec)
        with warehouse.transaction() as conn:
            results = evaluate(conn, spec, event.run_id if event else None, pii)
            # The scan covered what changed: the next one starts here. Not after a failure:
            # the rows found are scanned again until they are gone.
            if pii is not None and all(r.passed for r in results if r.check_name == NO_PII):
                advance(conn, pii)
        selected = context.selected_asset_check_keys
        for result in results:
            if any(k.name == result.check_name and k.asset_key == spec.asset for k in selected):
                yield result

    return _checks
