"""No secrets in the repository: no keys or tokens in tracked files, no local databases, passwords or .env files
tracked, and the one hard-coded key is the documented development key (refused with DEBUG off, as
tests/test_settings.py checks)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Split so that this file, tracked too, does not hold the key it looks for.
DEV_KEY_LINE = '_INSECURE_DEV_KEY = "django-' + 'insecure-local-development-key-do-not-use-in-production"'
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(r"aws_secret_access_key\s*[=:]\s*\S{40}", re.IGNORECASE),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "API token of this site": re.compile(r"\blbt_[0-9a-f]{8}_[A-Za-z0-9_-]{32,}"),
    # A literal value, not a shell or template variable ($SECRET_KEY, {{ secret }}).
    "hard-coded SECRET_KEY": re.compile(r"SECRET_KEY\s*[=:]\s*[rbf]?[\"'][^\"'${}\s]{8,}[\"']"),
    "password in a URL": re.compile(r"\b(?:postgres(?:ql)?|redis|rediss|mysql)://[^:@/\s]+:(?P<secret>[^@/\s]+)@"),
}
# What documentation writes in place of a secret.
PLACEHOLDER = re.compile(r"(?i)^(?:password|pass|secret|changeme|x+|\*+|…|\.\.\.|<[^>]*>|\$\{?\w+\}?)$")
# Files that hold local state or credentials: never tracked, always ignored.
LOCAL_FILES = [".env", ".env.production", "db.sqlite3", ".local-admin-password", "id_rsa", "server.pem", "tls.key"]

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def tracked() -> list[Path]:
    return [ROOT / name for name in git("ls-files", "-z").split("\0") if name and (ROOT / name).is_file()]


def test_no_tracked_file_holds_a_key_token_or_password():
    found = []
    for path in tracked():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: the demo data
        for what, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                if not PLACEHOLDER.match(match.groupdict().get("secret") or "-"):
                    found.append((str(path.relative_to(ROOT)), what, match[0][:30]))
    assert found == []


def test_the_only_hard_coded_key_is_the_development_key_of_the_settings():
    settings = (ROOT / "leaderboard_site" / "settings.py").read_text()
    assert DEV_KEY_LINE in settings
    # It is used only when SECRET_KEY is unset and DEBUG is on.
    assert "if not DEBUG:\n        raise ImproperlyConfigured" in settings
    holders = [path for path in tracked() if path.suffix == ".py" and DEV_KEY_LINE.split('"')[1] in path.read_text()]
    assert [str(path.relative_to(ROOT)) for path in holders] == ["leaderboard_site/settings.py"]


def test_local_databases_passwords_and_env_files_are_neither_tracked_nor_trackable():
    names = {path.name for path in tracked()}
    assert [name for name in names if name in LOCAL_FILES or name.startswith(".env") or name.endswith(".sqlite3")] == []
    ignored = git("check-ignore", "--no-index", *LOCAL_FILES).split()
    assert sorted(ignored) == sorted(LOCAL_FILES)


def test_the_patterns_find_what_they_look_for():
    # Built here so that this file does not trip its own scan.
    samples = {
        "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "API token of this site": "lbt_" + "0123abcd_" + "x" * 43,
        "hard-coded SECRET_KEY": "SECRET_KEY" + ' = "s3cr3t-k3y-value"',
        "password in a URL": "postgres://" + "user:hunter2@db/x",
    }
    assert {what for what, sample in samples.items() if PATTERNS[what].search(sample)} == set(samples)
    documented = PATTERNS["password in a URL"].search("postgres://" + "user:password@host/db")
    assert PLACEHOLDER.match(documented["secret"])
