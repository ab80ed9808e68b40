#!/usr/bin/env python3
"""An example worker for the leaderboard's evaluation queue, using only the Python standard library.

It claims the oldest pending evaluation, keeps its lease alive with heartbeats while it works, and posts the scores
(or the error). By default it only pretends, inventing plausible scores; with --run-lm-eval it runs
lm-evaluation-harness for real (`pip install lm-eval`) on the checkpoint's weights.

    export LEADERBOARD_TOKEN=lbt_...    # a token whose user has evaluations.change_evaluation
    python examples/worker.py --url http://127.0.0.1:8000 --name gpu-1
    python examples/worker.py --url http://127.0.0.1:8000 --name gpu-1 --run-lm-eval --device cuda:0 --once
"""

import argparse
import email.utils
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

# Worth sending again: the server or a proxy in front of it could not answer for now (the database restarting, a
# deploy, throttling). Any other 4xx would be refused again.
TRANSIENT_STATUSES = {429, 502, 503, 504}
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 1.0, 60.0


class ApiError(Exception):
    def __init__(self, status: int, body: object, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Api:
    def __init__(self, url: str, token: str, timeout: float = 60):
        self.base = url.rstrip("/") + "/api/v1/"
        self.token = token
        self.timeout = timeout

    def post(self, path: str, body: dict) -> tuple[int, dict | None]:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content = response.read()
                return response.status, json.loads(content) if content else None
        except urllib.error.HTTPError as error:
            content = error.read()
            try:
                detail = json.loads(content)
            except ValueError:
                detail = content.decode(errors="replace")
            raise ApiError(error.code, detail, retry_after_seconds(error.headers.get("Retry-After"))) from None

    def post_until(self, path: str, body: dict, deadline: float) -> tuple[int, dict | None]:
        """`post`, sent again after transient failures (connection errors, timeouts, 429, 502–504) with capped,
        jittered exponential backoff until `deadline` (time.monotonic()); the server recognises a repeated completion,
        so a response lost on the way back does not record the result twice."""
        attempt = 0
        while True:
            try:
                return self.post(path, body)
            except ApiError as error:
                if error.status not in TRANSIENT_STATUSES:
                    raise
                failure, wait = error, error.retry_after
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, cut short
                failure, wait = error, None
            if wait is None:
                wait = random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
            attempt += 1
            if time.monotonic() + wait >= deadline:
                raise failure
            print(f"{path} failed ({failure}); retrying in {wait:.1f}s", file=sys.stderr)
            time.sleep(wait)


class Heartbeat(threading.Thread):
    """Renews the job's lease every `interval` seconds until stopped, or until the lease is lost; `deadline` is when
    the lease ends (time.monotonic()) as far as this worker knows."""

    def __init__(self, api: Api, job: dict, interval: float, lease_seconds: float):
        super().__init__(daemon=True)
        self.api, self.job, self.interval, self.lease_seconds = api, job, interval, lease_seconds
        self.deadline = time.monotonic() + lease_seconds
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            sent = time.monotonic()
            try:
                self.api.post(f"evaluations/{self.job['id']}/heartbeat/", {"lease_token": self.job["lease_token"]})
                self.deadline = sent + self.lease_seconds
            except ApiError as error:
                if error.status == 409:  # someone else has the job now: stop working on it
                    self.lost = True
                    return
                print(f"heartbeat failed, will retry: {error}", file=sys.stderr)
            except OSError as error:
                print(f"heartbeat failed, will retry: {error}", file=sys.stderr)

    def stop(self) -> None:
        self.stopped.set()


def pretend(job: dict) -> dict:
    """Plausible scores for the benchmark's metrics: within their bounds, above their baseline."""
    metrics = {}
    for metric in job["benchmark"]["metrics"]:
        low = metric["baseline"] if metric["baseline"] is not None else (metric["lower_bound"] or 0.0)
        high = metric["upper_bound"] if metric["upper_bound"] is not None else max(low + 1.0, 1.0)
        metrics[metric["key"]] = {"value": random.uniform(low, high), "stderr": random.uniform(0.0, 0.02)}
    return {"metrics": metrics, "harness": "pretend", "config": {"pretend": True}}


# A Hugging Face repo id or a local path. lm_eval splits --model_args on "," and "=", so a name holding either would
# pass arguments of its own choosing (`x,trust_remote_code=True`); a leading "-" would read as an option.
MODEL_PATH = re.compile(r"[^\s,=\-][^\s,=]*")


def model_path(value: object, field: str) -> str:
    """`value` if lm_eval can take it as the model's path; raises ValueError saying why not."""
    if not isinstance(value, str) or not MODEL_PATH.fullmatch(value) or not value.isprintable():
        raise ValueError(
            f"The checkpoint's {field} {value!r} cannot be a model path for lm_eval: a Hugging Face repo id or a local "
            "path has no commas, '=', spaces or control characters, and does not start with '-'."
        )
    return value


def model_arguments(checkpoint: dict) -> tuple[str, str, int]:
    """The model, revision and step to evaluate, each checked on its own before they are joined for lm_eval."""
    field = "storage_uri" if checkpoint["storage_uri"] else "training_name"
    model = model_path(checkpoint[field], field)
    step = checkpoint["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"The checkpoint's step {step!r} is not a non-negative whole number.")
    return model, f"step{step}", step


def run_lm_eval(job: dict, *, command: str, model_type: str, device: str, batch_size: str) -> dict:
    """Run lm-evaluation-harness on the job's checkpoint and benchmark; returns the completion's fields."""
    checkpoint, benchmark = job["checkpoint"], job["benchmark"]
    model, revision, step = model_arguments(checkpoint)
    model_args = f"pretrained={model},revision={revision}"
    with tempfile.TemporaryDirectory() as output:
        arguments = [command, "--model", model_type, "--model_args", model_args]
        arguments += ["--tasks", benchmark["slug"], "--num_fewshot", str(benchmark["num_fewshot"])]
        arguments += ["--device", device, "--batch_size", batch_size, "--output_path", output]
        started = time.time()
        subprocess.run(arguments, check=True)
        files = sorted(Path(output).rglob("results*.json"), key=lambda path: path.stat().st_mtime)
        if not files:
            raise RuntimeError(f"lm_eval wrote no results file under {output}.")
        document = json.loads(files[-1].read_text())
    row = document["results"][benchmark["slug"]]
    return {
        "metrics": scores_from_row(row),
        "harness": "lm-evaluation-harness",
        "harness_version": str(document.get("lm_eval_version", "")),
        "config": {
            "model": model,
            "revision": revision,
            "step": step,
            "model_args": model_args,
            "duration_seconds": round(time.time() - started, 1),
        },
    }


def scores_from_row(row: dict) -> dict:
    """`{"acc,none": 0.5, "acc_stderr,none": 0.01}` → `{"acc": {"value": 0.5, "stderr": 0.01}}`, as the importer
    stores metric keys (the filter "none" dropped, any other filter kept)."""
    scores = {}
    for raw_key, value in row.items():
        name, _, filter_name = raw_key.partition(",")
        if name.endswith("_stderr") or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        key = name if filter_name in ("", "none") else f"{name},{filter_name}"
        stderr_key = f"{name}_stderr" + (f",{filter_name}" if filter_name else "")
        stderr = row.get(stderr_key)
        scores[key] = {"value": value, "stderr": stderr if isinstance(stderr, int | float) else None}
    return scores


def work_one(api: Api, args: argparse.Namespace) -> bool:
    """Claim one job and see it through; returns False when there was none."""
    claim = {"worker": args.name, "benchmark": args.benchmark, "model": args.model}
    if args.lease_seconds:
        claim["lease_seconds"] = args.lease_seconds
    status, job = api.post("evaluations/claim/", claim)
    if status == 204 or job is None:
        return False
    benchmark, checkpoint = job["benchmark"], job["checkpoint"]
    print(
        f"job {job['id']}: {benchmark['slug']} ({benchmark['num_fewshot']}-shot) on {checkpoint['training_name']} "
        f"step {checkpoint['step']}, attempt {job['attempts']}"
    )
    # The server says how long the lease lasts; heartbeats come a few times within it, so one lost request or a slow
    # answer does not let it lapse.
    lease_seconds = job.get("lease_seconds") or args.lease_seconds or 600
    heartbeat = Heartbeat(api, job, args.heartbeat or lease_seconds / 3, lease_seconds)
    heartbeat.start()
    try:
        if args.run_lm_eval:
            result = run_lm_eval(
                job, command=args.lm_eval, model_type=args.model_type, device=args.device, batch_size=args.batch_size
            )
        else:
            time.sleep(args.pretend_seconds)
            result = pretend(job)
    except Exception as error:
        heartbeat.stop()
        if not heartbeat.lost:
            message = f"{error}\n\n{traceback.format_exc()}"[-20000:]
            failure = {"lease_token": job["lease_token"], "error": message}
            api.post_until(f"evaluations/{job['id']}/fail/", failure, heartbeat.deadline)
        print(f"job {job['id']} failed: {error}", file=sys.stderr)
        return True
    heartbeat.stop()
    if heartbeat.lost:
        print(f"job {job['id']}: lease lost to another worker; result dropped", file=sys.stderr)
        return True
    # Until the lease ends the job is still this worker's, so the result is worth sending again through an outage.
    api.post_until(
        f"evaluations/{job['id']}/complete/", {"lease_token": job["lease_token"], **result}, heartbeat.deadline
    )
    print(f"job {job['id']} done")
    return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LEADERBOARD_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("LEADERBOARD_TOKEN"), help="default: $LEADERBOARD_TOKEN")
    parser.add_argument("--name", default=socket.gethostname(), help="this worker's name (default: the host name)")
    parser.add_argument("--benchmark", type=int, action="append", default=[], help="only jobs of this benchmark id")
    parser.add_argument("--model", type=int, action="append", default=[], help="only jobs of this model id")
    parser.add_argument("--once", action="store_true", help="handle at most one job, then exit")
    parser.add_argument("--poll", type=float, default=30, help="seconds to wait when the queue is empty")
    parser.add_argument("--lease-seconds", type=int, help="lease length to ask for (default: the server's)")
    parser.add_argument("--heartbeat", type=float, help="seconds between heartbeats (default: a third of the lease)")
    parser.add_argument("--pretend-seconds", type=float, default=1, help="how long pretending takes")
    parser.add_argument("--run-lm-eval", action="store_true", help="really run lm_eval instead of pretending")
    parser.add_argument("--lm-eval", default="lm_eval", help="the lm_eval command")
    parser.add_argument("--model-type", default="hf", help="lm_eval --model (default: hf)")
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--batch-size", default="auto")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("an API token is needed: --token or $LEADERBOARD_TOKEN")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    api = Api(args.url, args.token)
    while True:
        try:
            worked = work_one(api, args)
        except (ApiError, OSError, http.client.HTTPException) as error:
            print(f"error: {error}", file=sys.stderr)
            if args.once:
                return 1
            worked = False
        if args.once:
            return 0
        if not worked:
            time.sleep(args.poll)


if __name__ == "__main__":
    sys.exit(main())
