"""What we know about lm-evaluation-harness tasks and metrics, for the first time they are seen.

These tables only fill in new rows: a benchmark or metric that already exists keeps whatever an admin set.

Directions, looked up by the metric name without its filter (`exact_match` for `exact_match,strict-match`):

| direction | metrics |
|---|---|
| higher is better | acc, acc_norm, acc_mutual_info, exact_match, em, f1, mcc, chrf, bleu*, rouge* |
| lower is better  | ppl, perplexity, word_perplexity, byte_perplexity, bits_per_byte, likelihood_difference, ter, |
|                  | brier_score |
| unknown (always) | pct_stereotype: CrowS-Pairs' share of stereotyped choices, ideally 0.5, so neither way is better |
| unknown          | anything else the file does not describe in `higher_is_better` |

A file's own `higher_is_better` wins over the table, except for the always-unknown metrics: a boolean cannot say
"closest to 0.5". Unknown directions are stored as such for an admin to set; they are never guessed.

Categories, by task name (first matching prefix; a prefix without a trailing separator also matches the exact name):

| category | tasks |
|---|---|
| knowledge | hendrycksTest-*, mmlu* |
| bias | crows_pairs* |
| reasoning | arc_*, piqa, winogrande, hellaswag, logiqa*, sciq, wsc* |
| language modeling | lambada* |

Random-chance baselines, only for `acc` and `acc_norm` and only where the number of choices is fixed and known:
0.25 for four-choice tasks (arc_easy, arc_challenge, hendrycksTest-*, mmlu* except mmlu_pro*, sciq, logiqa,
hellaswag), 0.5 for two-choice ones (piqa, winogrande, wsc, wsc273). Everything else stays empty.

Bounds: [0, 1] only for the metrics that are shares of the examples (`UNIT_INTERVAL`); every other metric is left
unbounded, for lack of one scale that holds: perplexities (ppl, word_perplexity, byte_perplexity) are at least 1
and have no upper bound, bits_per_byte is at least 0 with none either, bleu and rouge are 0–100 in some tasks and
0–1 in others, and the *_diff variants are negative when the model does worse.

The primary metric of a new benchmark is the best-ranked of its metrics: a known direction first, then the order of
`PRIMARY_PREFERENCE` (plain accuracy before normalised accuracy before perplexity), then the file's order.
"""

from ..models import Metric

HIGHER = Metric.Direction.HIGHER
LOWER = Metric.Direction.LOWER
UNKNOWN = Metric.Direction.UNKNOWN

HIGHER_IS_BETTER = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "f1", "mcc", "bleu", "chrf"})
# truthfulqa_gen reports bleu_max, bleu_acc, bleu_diff and the same of rouge1, rouge2 and rougeL.
HIGHER_IS_BETTER_PREFIXES = ("bleu", "rouge")
LOWER_IS_BETTER = frozenset(
    {
        "ppl",
        "perplexity",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
        "likelihood_difference",
        "ter",
        "brier_score",
    }
)
NEITHER_WAY = frozenset({"pct_stereotype"})

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("hendrycksTest-", "knowledge"),
    ("mmlu", "knowledge"),
    ("crows_pairs", "bias"),
    ("arc_", "reasoning"),
    ("piqa", "reasoning"),
    ("winogrande", "reasoning"),
    ("hellaswag", "reasoning"),
    ("logiqa", "reasoning"),
    ("sciq", "reasoning"),
    ("wsc", "reasoning"),
    ("lambada", "language modeling"),
)

ACCURACY_METRICS = frozenset({"acc", "acc_norm"})
FOUR_CHOICES = frozenset({"arc_easy", "arc_challenge", "sciq", "logiqa", "hellaswag", "mmlu"})
FOUR_CHOICE_PREFIXES = ("hendrycksTest-", "mmlu_")
# MMLU-Pro has ten choices per question.
NOT_FOUR_CHOICE_PREFIXES = ("mmlu_pro",)
TWO_CHOICES = frozenset({"piqa", "winogrande", "wsc", "wsc273"})

PRIMARY_PREFERENCE = ("acc", "exact_match", "em", "f1", "mcc", "acc_norm", "bleu", "word_perplexity", "ppl")


def direction_of(metric_name: str, declared: bool | None) -> str:
    """The direction of a new metric: the file's `higher_is_better` if it says, else the table, else unknown."""
    if metric_name in NEITHER_WAY:
        return UNKNOWN
    if declared is not None:
        return HIGHER if declared else LOWER
    if metric_name in HIGHER_IS_BETTER or metric_name.startswith(HIGHER_IS_BETTER_PREFIXES):
        return HIGHER
    if metric_name in LOWER_IS_BETTER:
        return LOWER
    return UNKNOWN


def category_of(task: str) -> str:
    return next((category for prefix, category in CATEGORIES if task.startswith(prefix)), "")


def baseline_of(task: str, metric_name: str) -> float | None:
    if metric_name not in ACCURACY_METRICS:
        return None
    if task in TWO_CHOICES:
        return 0.5
    four_choices = task in FOUR_CHOICES or task.startswith(FOUR_CHOICE_PREFIXES)
    if four_choices and not task.startswith(NOT_FOUR_CHOICE_PREFIXES):
        return 0.25
    return None


def primary_order(metric_name: str, direction: str) -> tuple[bool, int]:
    """Sort key: the smallest is the best candidate for a new benchmark's primary metric."""
    preference = PRIMARY_PREFERENCE.index(metric_name) if metric_name in PRIMARY_PREFERENCE else len(PRIMARY_PREFERENCE)
    return direction == UNKNOWN, preference


# Metrics that are shares of the examples: their scale is [0, 1], which lets their raw values be averaged.
UNIT_INTERVAL = frozenset({"acc", "acc_norm", "acc_mutual_info", "exact_match", "em", "pct_stereotype"})


def bounds_of(metric_name: str) -> tuple[float | None, float | None]:
    """The lower and upper bound of a metric, where they are known; (None, None) otherwise."""
    return (0.0, 1.0) if metric_name in UNIT_INTERVAL else (None, None)
