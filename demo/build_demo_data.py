"""Regenerate `demo/pythia-v1-zero-shot.json.gz` from the published Pythia results vendored in tests/data.

    python demo/build_demo_data.py [--source tests/data/pythia-v1-zero-shot.tar.xz or a folder] [--target ...json.gz]

The output is a gzipped JSON list of `{"origin": <path inside the dataset>, "document": <lm-eval 0.3 result>}`, one
per checkpoint file (16 trainings × 27 checkpoints), each document trimmed to `TASKS` with its `config` and the
matching `versions` kept, so `manage.py load_demo` imports it through the same importer as real files. Values are
copied as they are. The output is byte-for-byte reproducible (sorted files, no timestamp in the gzip header).
"""

import argparse
import gzip
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "tests" / "data" / "pythia-v1-zero-shot.tar.xz"
TARGET = HERE / "pythia-v1-zero-shot.json.gz"
TASKS = (
    "lambada_openai",
    "piqa",
    "winogrande",
    "arc_easy",
    "arc_challenge",
    "sciq",
    "logiqa",
    "wsc",
    # Bias, with metrics of both known and unknown direction.
    "crows_pairs_english",
    # Two large MMLU subjects, for a knowledge category.
    "hendrycksTest-miscellaneous",
    "hendrycksTest-high_school_psychology",
)


def result_files(source: Path) -> Iterator[tuple[str, dict]]:
    """(path inside the dataset, parsed file) for each result file, in path order, from the archive or a folder."""
    if source.is_dir():
        for path in sorted(source.glob("*/zero-shot/*.json")):
            yield path.relative_to(source).as_posix(), json.loads(path.read_text())
        return
    with tarfile.open(source) as archive:
        members = sorted(
            (member for member in archive.getmembers() if member.isfile() and member.name.endswith(".json")),
            key=lambda member: PurePosixPath(member.name),  # as Path sorts: by part, like the folder case
        )
        for member in members:
            # Members are named pythia-v1-zero-shot/<training>/zero-shot/<file>: origins are relative to the dataset.
            yield member.name.split("/", 1)[1], json.load(archive.extractfile(member))


def build(source: Path = SOURCE) -> list[dict]:
    documents = []
    for origin, full in result_files(source):
        missing = [task for task in TASKS if task not in full["results"]]
        if missing:
            raise SystemExit(f"{origin} lacks {', '.join(missing)}")
        document = {
            "results": {task: full["results"][task] for task in TASKS},
            "versions": {task: full["versions"][task] for task in TASKS if task in full.get("versions", {})},
            "config": full["config"],
        }
        documents.append({"origin": origin, "document": document})
    return documents


def write(documents: list[dict], target: Path = TARGET) -> None:
    text = json.dumps(documents, separators=(",", ":"))
    with target.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as archive:
        archive.write(text.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="The pythia-v1-zero-shot archive or folder.")
    parser.add_argument("--target", type=Path, default=TARGET, help="The file to write.")
    arguments = parser.parse_args()
    documents = build(arguments.source)
    write(documents, arguments.target)
    print(f"Wrote {len(documents)} documents to {arguments.target} ({arguments.target.stat().st_size:,} bytes).")


if __name__ == "__main__":
    main()
