"""Importing lm-evaluation-harness result files: `lm_eval` reads and checks them, `ingest` writes them, `known`
holds the defaults for tasks and metrics seen for the first time. The rules are in each module's docstring."""

from .ingest import (
    FileOutcome,
    Importer,
    ImportSummary,
    find_result_files,
    import_bytes,
    import_document,
    import_paths,
)
from .lm_eval import InvalidResultFile, Overrides, parse_document

__all__ = [
    "FileOutcome",
    "ImportSummary",
    "Importer",
    "InvalidResultFile",
    "Overrides",
    "find_result_files",
    "import_bytes",
    "import_document",
    "import_paths",
    "parse_document",
]
