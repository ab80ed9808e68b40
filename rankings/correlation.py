"""How much metrics agree: each row's rank under each metric, and Kendall's tau and Spearman's rho between them.

The sums are computed by the database over the ranked rows (Kendall's tau needs every pair of rows, so it is a
self-join, bounded by MAX_ROWS); only the final few arithmetic steps on those sums happen here.
"""

import math
from dataclasses import dataclass, replace
from itertools import combinations

from django.db import connection

from evaluations.models import Metric

from .methods import Method, Missing, RankingSpec
from .queries import RankingQuerySet

# Kendall's tau compares every pair of rows: 2,000 rows are 2 million pairs, about a second on PostgreSQL.
MAX_ROWS = 2000


@dataclass(frozen=True)
class Correlation:
    first: Metric
    second: Metric
    rows: int
    kendall_tau: float | None
    spearman_rho: float | None


def ranks_across(candidates: RankingQuerySet, metrics: list[Metric], *, best_only: bool = False) -> RankingQuerySet:
    """Rows having all of `metrics`, with their rank under each as `part_<metric id>`, ordered by mean rank.

    With `best_only` the rows are the best checkpoint of each training (by mean rank over all the candidates), and
    every rank is counted among those rows: ranks among all 432 checkpoints (up to 421) beside 16 rows read as
    nonsense, and the correlations are then those of the rows shown. The best rows are chosen first, then ranked
    again, as a window after a window filter would be computed over the unfiltered rows.
    """
    spec = RankingSpec.of(metrics, method=Method.MEAN_RANK, missing=Missing.REQUIRE_ALL)
    if best_only:
        best = candidates.ranked(replace(spec, best_only=True))
        candidates = candidates.filter(pk__in=best.values("pk"))
    return candidates.ranked(spec)


def rank_correlations(ranked: RankingQuerySet, metrics: list[Metric]) -> list[Correlation]:
    """Kendall's tau-b and Spearman's rho (ties get average ranks) for every pair of `metrics` over `ranked`.

    `ranked` comes from `ranks_across`; the first MAX_ROWS rows are used.
    """
    if len(metrics) < 2:
        return []
    columns = [f"part_{metric.pk}" for metric in metrics]
    inner_sql, params = ranked.values("pk", *columns)[:MAX_ROWS].query.sql_with_params()
    # Average rank of a tied group = its competition rank + (group size − 1) / 2.
    averaged = ", ".join(f"r.{c} + (COUNT(*) OVER (PARTITION BY r.{c}) - 1) / 2.0 AS {c}" for c in columns)
    pairs = list(combinations(range(len(metrics)), 2))
    sums = ["COUNT(*)"]
    for c in columns:
        sums += [f"SUM({c})", f"SUM({c} * {c})"]
    for i, j in pairs:
        sums.append(f"SUM({columns[i]} * {columns[j]})")
    pair_sums = []
    for i, j in pairs:
        a, b = columns[i], columns[j]
        pair_sums += [
            f"SUM(CASE WHEN (x.{a} - y.{a}) * (x.{b} - y.{b}) > 0 THEN 1 "
            f"WHEN (x.{a} - y.{a}) * (x.{b} - y.{b}) < 0 THEN -1 ELSE 0 END)",
            f"SUM(CASE WHEN x.{a} = y.{a} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN x.{b} = y.{b} THEN 1 ELSE 0 END)",
        ]
    with_clause = f"WITH r AS ({inner_sql}), a AS (SELECT r.pk, {averaged} FROM r)"
    with connection.cursor() as cursor:
        cursor.execute(f"{with_clause} SELECT {', '.join(sums)} FROM a", params)
        totals = [float(value or 0) for value in cursor.fetchone()]
        cursor.execute(f"{with_clause} SELECT {', '.join(pair_sums)} FROM a x JOIN a y ON x.pk < y.pk", params)
        pair_totals = [float(value or 0) for value in cursor.fetchone()]

    n = int(totals[0])
    sum_of = {c: totals[1 + 2 * k] for k, c in enumerate(columns)}
    squares_of = {c: totals[2 + 2 * k] for k, c in enumerate(columns)}
    results = []
    for index, (i, j) in enumerate(pairs):
        a, b = columns[i], columns[j]
        products = totals[1 + 2 * len(columns) + index]
        spread = (n * squares_of[a] - sum_of[a] ** 2) * (n * squares_of[b] - sum_of[b] ** 2)
        rho = (n * products - sum_of[a] * sum_of[b]) / math.sqrt(spread) if spread > 0 else None
        concordance, ties_a, ties_b = pair_totals[3 * index : 3 * index + 3]
        all_pairs = n * (n - 1) / 2
        denominator = (all_pairs - ties_a) * (all_pairs - ties_b)
        tau = concordance / math.sqrt(denominator) if denominator > 0 else None
        results.append(Correlation(metrics[i], metrics[j], n, tau, rho))
    return results
