"""Static files that ship inside installed Python packages, so nothing beyond pip is needed for the front end."""

from importlib.util import find_spec
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# Served path → (package, file inside the package). plotly's wheel carries plotly.js itself.
PACKAGE_FILES = {"vendor/plotly/plotly.min.js": ("plotly", "package_data/plotly.min.js")}


def _package_file(package: str, relative: str) -> Path:
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"The package {package!r} is not installed.")
    return Path(spec.origin).parent / relative


class PackageFileFinder(BaseFinder):
    def find(self, path: str, find_all: bool = False, **kwargs):
        if path not in PACKAGE_FILES:
            return [] if find_all else None
        found = str(_package_file(*PACKAGE_FILES[path]))
        return [found] if find_all else found

    def list(self, ignore_patterns):
        for served, (package, relative) in PACKAGE_FILES.items():
            source = _package_file(package, relative)
            storage = FileSystemStorage(location=source.parent)
            storage.prefix = str(Path(served).parent)
            yield source.name, storage
