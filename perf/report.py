"""The benchmark's results: one JSON file per database and scale in docs/performance/, and docs/performance.md
written from all of them, with each target of the performance issue checked against its numbers."""

import json
from pathlib import Path

from django.conf import settings

RESULTS_DIR = settings.BASE_DIR / "docs" / "performance"
REPORT = settings.BASE_DIR / "docs" / "performance.md"

# Targets hold on PostgreSQL at scale L; SQLite at scale M must stay within twice PostgreSQL's time at M.
TARGET_SCALE, TARGET_VENDOR = "L", "postgresql"
SAVED_PAGE_MS = 15
SINGLE_METRIC_MS = 50
FIVE_METRIC_MS = 300
INGEST_SCORES_PER_SECOND = 5000
MEMORY_MB = 300
SQLITE_FACTOR = 2


def save(result: dict, *, prefix: str = "bench") -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{prefix}-{result['vendor']}-{result['scale']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def load_all(prefix: str = "bench") -> list[dict]:
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(RESULTS_DIR.glob(f"{prefix}-*.json"))]
    order = {"S": 0, "M": 1, "L": 2}
    return sorted(runs, key=lambda run: (-order.get(run["scale"], 0), run["vendor"] != TARGET_VENDOR))


def target_of(timing: dict) -> float | None:
    """The median-time target (ms) the issue sets for this measurement at scale L on PostgreSQL, if any."""
    name = timing["name"]
    if name == "saved leaderboard (cached)":
        return SAVED_PAGE_MS
    if name.startswith("ad hoc: 5-metric"):
        return FIVE_METRIC_MS
    if name.startswith("ad hoc:"):
        return SINGLE_METRIC_MS
    return None


def render_overhead_ok(timing: dict) -> bool | None:
    """Page time within twice the raw query time plus 5 ms (for pages that read the rankings)."""
    raw = timing.get("raw_sql_median_ms")
    if timing["group"] != "page" or raw is None or timing["name"] == "saved leaderboard (cached)":
        return None
    return timing["median_ms"] <= 2 * raw + 5


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "**missed**")


def _reference(runs: list[dict], scale: str) -> dict[tuple[str, str], float]:
    for run in runs:
        if run["vendor"] == TARGET_VENDOR and run["scale"] == scale:
            return {(t["name"], t["group"]): t["median_ms"] for t in run["timings"]}
    return {}


def render(runs: list[dict], load_runs: tuple[dict, ...] = ()) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `python manage.py bench` (`make bench`); each section is the latest run on that database and "
        "scale. Times are server time in milliseconds, measured in-process (Django's test client, no network), "
        "median and 95th percentile over repeated requests after a warm-up. *Raw SQL* is the time of the same "
        "request's queries on the read model, run straight through the database driver with the same parameters; "
        "*ratio* is page time over raw SQL time.",
        "",
        f"Targets (issue 6) apply on PostgreSQL at scale L: saved leaderboard page ≤ {SAVED_PAGE_MS} ms, ad-hoc "
        f"single-metric ranking ≤ {SINGLE_METRIC_MS} ms, 5-metric normalised mean ≤ {FIVE_METRIC_MS} ms, a page "
        f"≤ 2 × its raw SQL + 5 ms, ingest ≥ {INGEST_SCORES_PER_SECOND:,} scores/s, a process under {MEMORY_MB} MB; "
        f"SQLite at scale M within {SQLITE_FACTOR} × PostgreSQL at M.",
        "",
        "Rerun: `make bench SCALE=S` (SQLite file `bench-S.sqlite3`), or on PostgreSQL "
        "`createdb leaderboard_bench && make bench SCALE=L "
        "BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/leaderboard_bench`; `make loadtest` the same way.",
    ]
    for run in runs:
        lines += _section(run, runs)
    for run in load_runs:
        lines += _load_section(run)
    notes = RESULTS_DIR / "notes.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


def _load_section(run: dict) -> list[str]:
    lines = [
        "",
        f"## Load test: {run['vendor']}, scale {run['scale']}",
        "",
        f"`manage.py loadtest`: gunicorn in the production configuration ({run['cache']} cache), "
        f"{run['concurrency']} clients on 127.0.0.1 for {run['seconds']:.0f} s, mixed traffic. "
        f"{run['requests']:,} requests, {run['requests_per_second']:,.0f} per second; statuses {run['statuses']}; "
        f"server errors: {run['server_errors']}.",
        "",
        "| traffic | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, numbers in [*run["by_kind"].items(), ("all", run["overall"])]:
        if numbers.get("count"):
            lines.append(
                f"| {kind} | {numbers['count']:,} | {numbers['p50_ms']} | {numbers['p95_ms']} | {numbers['p99_ms']} |"
            )
    lines += [
        "",
        f"- Results acknowledged by the API: {run['results_acknowledged']:,}; stored: {run['results_stored']:,}; "
        f"stored twice: {run['results_duplicated']}; lost: {run['results_lost']}; re-posts answered unchanged: "
        f"{run['reposts_unchanged']:,}. Read-model drift afterwards: {run['read_model_drift']}.",
        f"- Peak resident memory of a gunicorn worker: {run['worker_peak_rss_mb']:.0f} MB (target < {MEMORY_MB} MB).",
    ]
    return lines


def _section(run: dict, runs: list[dict]) -> list[str]:
    data = run["data"]
    is_target = run["scale"] == TARGET_SCALE and run["vendor"] == TARGET_VENDOR
    compared = _reference(runs, run["scale"]) if run["vendor"] == "sqlite" else {}
    lines = [
        "",
        f"## {run['database']}, scale {run['scale']}",
        "",
        f"{data['trainings']:,} trainings × {data['checkpoints_per_training']} checkpoints × {data['benchmarks']} "
        f"benchmarks × {data['metrics_per_benchmark']} metrics: {data['scores']:,} scores, {data['current_scores']:,}"
        f" current scores. Run on {run['date']} on {run['machine']} ({run['versions']}).",
        "",
        "| measurement | kind | median ms | p95 ms | raw SQL ms | ratio | target | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for timing in run["timings"]:
        raw = timing.get("raw_sql_median_ms")
        ratio = f"{timing['median_ms'] / raw:.1f}" if raw else ""
        target, verdict = "", ""
        if is_target and (limit := target_of(timing)) is not None:
            target, verdict = f"≤ {limit}", _mark(timing["median_ms"] <= limit)
        if is_target and (ok := render_overhead_ok(timing)) is not None:
            target += ("; " if target else "") + "≤ 2 × raw + 5"
            verdict = _mark(ok and verdict != "**missed**")
        if (reference := compared.get((timing["name"], timing["group"]))) is not None:
            target = f"≤ {SQLITE_FACTOR} × PostgreSQL ({reference:.1f})"
            verdict = _mark(timing["median_ms"] <= SQLITE_FACTOR * reference)
        raw_text = f"{raw:.1f}" if raw is not None else ""
        lines.append(
            f"| {timing['name']} | {timing['group']} | {timing['median_ms']:.1f} | {timing['p95_ms']:.1f} "
            f"| {raw_text} | {ratio} | {target} | {verdict} |"
        )
    lines += ["", "| throughput | results | scores | seconds | results/s | scores/s | target | result |"]
    lines.append("|---|---:|---:|---:|---:|---:|---|---|")
    for name, ingest in run["ingest"].items():
        per_second = ingest["scores"] / ingest["seconds"]
        target = f"≥ {INGEST_SCORES_PER_SECOND:,} scores/s" if is_target else ""
        verdict = _mark(per_second >= INGEST_SCORES_PER_SECOND) if is_target else ""
        lines.append(
            f"| {name} | {ingest['results']:,} | {ingest['scores']:,} | {ingest['seconds']:.2f} "
            f"| {ingest['results'] / ingest['seconds']:,.0f} | {per_second:,.0f} | {target} | {verdict} |"
        )
    memory = run["peak_rss_mb"]
    lines += [
        "",
        f"- Read-model rebuild (`rebuild_current_scores`, {data['current_scores']:,} rows): "
        + (f"{run['rebuild_seconds']:.1f} s." if run["rebuild_seconds"] is not None else "not timed in this run.")
        + (f" Generating the data took {run['generate_seconds']:.0f} s." if run["generate_seconds"] else ""),
        f"- Peak memory of the benchmark process (it serves every request above): {memory:.0f} MB"
        + (f" ({_mark(memory < MEMORY_MB)}: < {MEMORY_MB} MB)." if is_target else "."),
    ]
    if run.get("notes"):
        lines += ["", *[f"- {note}" for note in run["notes"]]]
    return lines


def write_report() -> Path:
    REPORT.write_text(render(load_all(), load_all("load")), encoding="utf-8")
    return REPORT
