"""How numbers read on the site and in exports: one rule for the digits, used by tables, cards, compare and Markdown.

A column shows each value with the same number of decimals: the metric's own `decimals` at least, and more where
that many would make distinct values of the column read alike (mean scores of 0.6012 and 0.5987 both read "0.60",
so ranks 1 and 2 looked tied). Large values carry thousands separators (a perplexity of 3,594,272).
"""

import math
from collections.abc import Iterable

# Beyond this the digits are noise in an evaluation score; values that still read alike are shown alike.
MAX_DECIMALS = 6


def decimals_for(values: Iterable[float | None], minimum: int) -> int:
    """The least number of decimals, from `minimum` up to MAX_DECIMALS, at which distinct values read differently."""
    distinct = {value for value in values if value is not None and math.isfinite(value)}
    for decimals in range(minimum, MAX_DECIMALS + 1):
        if len({f"{value:.{decimals}f}" for value in distinct}) == len(distinct):
            return decimals
    return max(minimum, MAX_DECIMALS)


def format_number(value: float | None, decimals: int) -> str:
    """`value` with `decimals` decimals and thousands separators; empty for a missing value."""
    if value is None:
        return ""
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.{decimals}f}"
