"""Every API write endpoint with a valid body: what the permission matrix posts, and what hostile bodies replace."""

import uuid

from django.urls import reverse

from .conftest import World


def lm_eval_document(*, pretrained: str = "EleutherAI/pythia-160m", revision: str = "step1000") -> dict:
    """A small lm-evaluation-harness 0.4 result file on ARC easy, the world's benchmark."""
    return {
        "results": {"arc_easy": {"alias": "arc_easy", "acc,none": 0.5, "acc_stderr,none": 0.01}},
        "n-shot": {"arc_easy": 0},
        "versions": {"arc_easy": ""},
        "higher_is_better": {"arc_easy": {"acc": True}},
        "config": {"model": "hf", "model_args": f"pretrained={pretrained},revision={revision}"},
    }


def result(**fields) -> dict:
    body = {
        "model": "pythia-160m",
        "training": "pythia-160m-deduped",
        "step": 1000,
        "benchmark": {"slug": "arc_easy", "num_fewshot": 0, "version": ""},
        "metrics": {"acc": 0.5},
    }
    return body | fields


# name -> (url, body): bodies valid for a client with the right permission.
WRITES = {
    "api:evaluation-list": (
        lambda w: reverse("api:evaluation-list"),
        lambda w: {"checkpoint": w.checkpoint.pk, "benchmarks": [w.missing.pk]},
    ),
    "api:evaluation-claim": (lambda w: reverse("api:evaluation-claim"), lambda w: {"worker": "gpu-1"}),
    "api:evaluation-heartbeat": (
        lambda w: reverse("api:evaluation-heartbeat", args=[w.running.pk]),
        lambda w: {"lease_token": str(uuid.uuid4())},
    ),
    "api:evaluation-complete": (
        lambda w: reverse("api:evaluation-complete", args=[w.running.pk]),
        lambda w: {"lease_token": str(uuid.uuid4()), "metrics": {"acc": 0.5}},
    ),
    "api:evaluation-fail": (
        lambda w: reverse("api:evaluation-fail", args=[w.running.pk]),
        lambda w: {"lease_token": str(uuid.uuid4()), "error": "out of memory"},
    ),
    "api:results": (lambda w: reverse("api:results"), lambda w: result()),
    "api:import-lm-eval": (
        lambda w: reverse("api:import-lm-eval"),
        lambda w: {"files": [{"name": "a.json", "content": lm_eval_document()}]},
    ),
}


def write(name: str, world: World) -> tuple[str, dict]:
    url, body = WRITES[name]
    return url(world), body(world)
