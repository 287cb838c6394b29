"""Statistics the database computes but Django does not ship: durations and percentiles.

- `SecondsBetween(end, start)`: seconds between two datetimes as a float, on PostgreSQL and SQLite.
- `percentiles(...)`: median, P90 … of one or more values, optionally per group, in ONE query.
  On PostgreSQL that is the ordered-set aggregate `percentile_cont`. SQLite (the embedded
  default) has none, so there the same figure comes from a window-function query: rank the
  values per group (ROW_NUMBER, COUNT), then interpolate linearly between the two rows around
  position p·(n−1) — exactly percentile_cont's definition, so both give the same numbers.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import NotSupportedError, connections
from django.db.models import Aggregate, F, FloatField, Func, QuerySet

DEFAULT_PERCENTILES = (0.5, 0.9)


class SecondsBetween(Func):
    """`end - start` in seconds (float); NULL when either is NULL."""

    arity = 2
    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"SecondsBetween is not implemented for {connection.vendor}.")

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM (%(expressions)s)) AS double precision)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django keeps datetimes in SQLite as UTC text, which julianday() parses (with fractions).
        return super().as_sql(
            compiler,
            connection,
            template="((JULIANDAY(%(expressions)s)) * 86400.0)",
            arg_joiner=") - JULIANDAY(",
            **extra_context,
        )


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between neighbouring values)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction between 0 and 1.")
        super().__init__(expression, fraction=repr(fraction), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            raise NotSupportedError("percentile_cont needs PostgreSQL; use cockpit.stats.percentiles().")
        return super().as_sql(compiler, connection, **extra_context)


Result = dict[tuple, dict[str, dict[float, float | None]]]


def percentiles(
    queryset: QuerySet,
    values: Mapping[str, object],
    *,
    group_by: Iterable[str] = (),
    fractions: Iterable[float] = DEFAULT_PERCENTILES,
) -> Result:
    """{group key: {value name: {fraction: percentile}}} for the rows of `queryset`; NULL values
    are left out (as percentile_cont does). The key is a tuple of the `group_by` fields' values
    (the empty tuple without grouping). Groups without any value are missing."""
    group_by = tuple(group_by)
    fractions = tuple(float(f) for f in fractions)
    vendor = connections[queryset.db].vendor
    if vendor == "postgresql":
        return _percentiles_postgresql(queryset, values, group_by, fractions)
    if vendor == "sqlite":
        return percentiles_by_window(queryset, values, group_by=group_by, fractions=fractions)
    raise NotSupportedError(f"percentiles() is not implemented for {vendor}.")


def _key(fraction: float) -> str:
    return f"p{round(fraction * 1000):04d}"


def _percentiles_postgresql(queryset, values, group_by, fractions) -> Result:
    names = list(values)
    annotated = queryset.order_by().annotate(**{f"cockpit_v{i}": values[name] for i, name in enumerate(names)})
    aggregates = {
        f"cockpit_v{i}_{_key(f)}": PercentileCont(F(f"cockpit_v{i}"), f) for i in range(len(names)) for f in fractions
    }
    rows = [annotated.aggregate(**aggregates)] if not group_by else annotated.values(*group_by).annotate(**aggregates)
    result: Result = {}
    for row in rows:
        key = tuple(row[field] for field in group_by)
        per_value = {name: {f: row[f"cockpit_v{i}_{_key(f)}"] for f in fractions} for i, name in enumerate(names)}
        # percentile_cont gives NULL for a group without values: leave such values out.
        per_value = {name: found for name, found in per_value.items() if any(v is not None for v in found.values())}
        if per_value:
            result[key] = per_value
    return result


def percentiles_by_window(
    queryset: QuerySet,
    values: Mapping[str, object],
    *,
    group_by: Iterable[str] = (),
    fractions: Iterable[float] = DEFAULT_PERCENTILES,
) -> Result:
    """The portable way (window functions only); `percentiles()` uses it on SQLite. It runs on
    PostgreSQL too, where the tests check it against percentile_cont."""
    group_by, fractions = tuple(group_by), tuple(float(f) for f in fractions)
    connection = connections[queryset.db]
    names = list(values)
    groups = [f"cockpit_g{i}" for i in range(len(group_by))]
    base = (
        queryset.order_by()
        .annotate(**{alias: F(field) for alias, field in zip(groups, group_by, strict=True)})
        .annotate(**{f"cockpit_v{i}": values[name] for i, name in enumerate(names)})
        .values(*groups, *[f"cockpit_v{i}" for i in range(len(names))])
    )
    base_sql, params = base.query.sql_with_params()
    group_cols = "".join(f", {g}" for g in groups)
    # Only identifiers made here (cockpit_g0…, cockpit_v0…) and float literals go into the SQL
    # text; every value from outside travels in `params`.
    long = " UNION ALL ".join(
        f"SELECT {i} AS metric{group_cols}, cockpit_v{i} AS v FROM base WHERE cockpit_v{i} IS NOT NULL"  # nosec B608
        for i in range(len(names))
    )
    partition = f"metric{group_cols}"
    columns = []
    for f in fractions:
        position = f"({f!r} * (n - 1))"
        # floor(position); SQLite may lack FLOOR, but its CAST truncates, which is floor for positions >= 0
        low = f"CAST({position} AS INTEGER)" if connection.vendor == "sqlite" else f"CAST(FLOOR({position}) AS INTEGER)"
        weight = f"({position} - {low})"
        columns.append(
            f"SUM(CASE WHEN rn = {low} THEN v * (1 - {weight}) WHEN rn = {low} + 1 THEN v * {weight} ELSE 0 END)"
            f" AS {_key(f)}"
        )
    sql = (
        f"WITH base AS ({base_sql}), long AS ({long}), "  # nosec B608
        f"ranked AS (SELECT {partition}, v, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY v) - 1 AS rn, "
        f"COUNT(*) OVER (PARTITION BY {partition}) AS n FROM long) "
        f"SELECT {partition}, {', '.join(columns)} FROM ranked GROUP BY {partition}"
    )
    result: Result = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            metric, key, found = row[0], tuple(row[1 : 1 + len(groups)]), row[1 + len(groups) :]
            result[key][names[metric]] = dict(zip(fractions, found, strict=True))
    return dict(result)
