"""The site in its production configuration (gunicorn, DEBUG off, WhiteNoise, JSON logs) in a child process, for the
load test: the same settings `make serve` uses, on a free port of 127.0.0.1, against this process's database."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(port: int, static_root: str, overrides: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            # Plain HTTP on loopback, as `make serve`: no HTTPS redirect, HSTS or Secure cookies.
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "STATIC_ROOT": static_root,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "CONN_MAX_AGE": env.get("CONN_MAX_AGE", "60"),
        }
    )
    env.update(overrides)
    return env


@contextmanager
def running(overrides: dict[str, str], log: Path):
    """Yield (port, memory sampler) while gunicorn serves; stop it gracefully afterwards."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="leaderboard-static-") as static_root:
        env = production_env(port, static_root, overrides)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        subprocess.run([*manage, "collectstatic", "--no-input", "--verbosity", "0"], env=env, check=True)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        config = settings.BASE_DIR / "leaderboard_site" / "gunicorn.conf.py"
        with open(log, "wb") as output:
            process = subprocess.Popen([str(gunicorn), "--config", str(config)], env=env, stdout=output, stderr=output)
        sampler = MemorySampler(process.pid)
        try:
            _wait_healthy(port, process, log)
            sampler.start()
            yield port, sampler
        finally:
            sampler.stop()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; its log: {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; its log: {log}")


class MemorySampler(threading.Thread):
    """The highest resident memory seen of each gunicorn worker (children of the master), sampled twice a second."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master = master
        self.peak_mb: dict[int, float] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(0.5):
            for pid in _children(self.master):
                rss = _rss_mb(pid)
                if rss is not None:
                    self.peak_mb[pid] = max(rss, self.peak_mb.get(pid, 0.0))

    def stop(self) -> None:
        self._stopped.set()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
