"""What another OS user on the same host can reach of an Ustadh started as root with embedded
defaults: not the PostgreSQL socket (trust auth inside), not Redis's, not the logs. Tested as the
user `nobody`, with DATA_DIR under a private (0700) directory as `mkdtemp` makes them."""
from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.logs import setup_logging
from ops.datadir import make_private
from ops.embedded import EmbeddedPostgres, EmbeddedRedis

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start servers and act as another OS user")


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "nobody", "--", *command], capture_output=True, text=True, timeout=30)


@pytest.fixture
def private_data_dir() -> Iterator[Path]:
    """DATA_DIR inside a 0700 directory, created under the umask `ustadh up` runs with."""
    parent = Path(tempfile.mkdtemp(prefix="ustadh-private-"))
    previous = os.umask(0o077)
    try:
        data_dir = parent / "data"
        make_private(data_dir)
        yield data_dir
    finally:
        os.umask(previous)
        subprocess.run(["rm", "-rf", str(parent)], check=False)


def test_embedded_postgres_starts_under_a_private_parent_and_only_its_user_connects(private_data_dir: Path) -> None:
    server = EmbeddedPostgres(private_data_dir)
    url = server.start()
    try:
        psql = str(server.bin / "psql")
        query = [psql, "-h", str(server.socket_dir), "-U", "postgres", "-d", "ustadh", "-Atc", "SELECT 42"]
        assert subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip() == "42", url
        refused = as_nobody(*query)
        assert refused.returncode != 0 and "42" not in refused.stdout, refused.stdout + refused.stderr
        assert "Permission denied" in refused.stderr, refused.stderr
        assert oct(server.socket_dir.stat().st_mode & 0o777) == oct(0o700)
    finally:
        server.stop()


def test_embedded_redis_is_its_users_alone(private_data_dir: Path) -> None:
    server = EmbeddedRedis(private_data_dir)
    server.start()
    try:
        probe = ("import socket; s = socket.socket(socket.AF_UNIX); "
                 f"s.connect({str(server.socket)!r}); s.sendall(b'PING\\r\\n'); print(s.recv(10))")
        refused = as_nobody("/usr/bin/python3", "-c", probe)
        assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stdout + refused.stderr
    finally:
        server.stop()


def test_logs_and_run_files_are_owner_only(private_data_dir: Path, settings: Settings) -> None:
    (private_data_dir / "run").mkdir(mode=0o755)
    left = private_data_dir / "run" / "ray.address"
    left.write_text("127.0.0.1:6379")
    left.chmod(0o644)  # as an older version left it
    make_private(private_data_dir)
    assert oct(left.stat().st_mode & 0o777) == oct(0o600)
    os.umask(0o022)  # logging protects its file whatever the process's umask
    private = load_settings(_env_file=None, DATA_DIR=private_data_dir)
    setup_logging(private, "tests")
    try:
        assert oct(private.log_file.stat().st_mode & 0o777) == oct(0o600)
        assert oct(private.log_file.parent.stat().st_mode & 0o777) == oct(0o700)
        assert as_nobody("cat", str(private.log_file)).returncode != 0
    finally:
        setup_logging(settings, "tests")  # the session's log file again
