"""A redis-server of the test's own, on a free port, that the test may stop, kill and freeze.

The shared Redis (REDIS_URL) must never be stopped or frozen: other runs use it. A test about
outages starts its own server with the `private_redis` fixture (import it into the test module)
and points the application at it with `app_on_redis`. Without `redis-server` on PATH the test is
skipped, and fails in CI.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
import redis

from tests.celery_broker import celery_configured
from tests.conftest import _required_in_ci

START_SECONDS = 10


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    def __init__(self, binary: str, directory):
        self.binary = binary
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                with redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.2) as client:
                    client.ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {START_SECONDS} s")

    def stop(self) -> None:
        """Stopped as an orderly shutdown does (SIGTERM): connections are refused."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server cannot handle SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    @contextmanager
    def frozen(self, *, at_most: float):
        """Frozen (SIGSTOP): connections are accepted by the kernel, nothing ever answers. Thawed
        after the block, or after `at_most` seconds if the block still hangs on it then, so a
        test of code that waits for Redis fails instead of hanging."""
        pid = self.process.pid
        os.kill(pid, signal.SIGSTOP)
        timer = threading.Timer(at_most, os.kill, args=(pid, signal.SIGCONT))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        _required_in_ci("needs redis-server on PATH to start a private Redis (apt-get install redis-server)")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@contextmanager
def app_on_redis(settings, server: PrivateRedis):
    """The application's cache (as production configures it, settings.REDIS_CACHE) and its Celery
    broker on `server` for the block."""
    settings.CACHES = {"default": {**settings.REDIS_CACHE, "LOCATION": server.url}}
    with celery_configured(task_always_eager=False, broker_url=server.url) as app:
        yield app
