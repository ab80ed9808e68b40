"""Real result files vendored in tests/data, unpacked on first use into a temporary folder of this test run."""

import atexit
import functools
import shutil
import tarfile
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PYTHIA_ARCHIVE = DATA / "pythia-v1-zero-shot.tar.xz"


@functools.cache
def pythia() -> Path:
    """The folder of the 432 published Pythia result files (`<training>/zero-shot/<file>.json`)."""
    folder = Path(tempfile.mkdtemp(prefix="pythia-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with tarfile.open(PYTHIA_ARCHIVE) as archive:
        archive.extractall(folder, filter="data")
    return folder / "pythia-v1-zero-shot"
