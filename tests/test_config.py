"""Settings: defaults, parsing, and bad values failing with the setting's name."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import SettingsError, load_settings


def test_defaults_are_embedded_and_loopback() -> None:
    settings = load_settings(_env_file=None)
    assert settings.DATABASE_URL is None and settings.REDIS_URL is None
    assert settings.HTTP_HOST == "127.0.0.1" and settings.HTTP_PORT == 8000
    assert settings.milvus_uri == str(settings.DATA_DIR / "milvus.db")
    assert settings.DATA_DIR.is_absolute()


def test_admin_ids_accept_comma_separated_values() -> None:
    assert load_settings(_env_file=None, ADMIN_TELEGRAM_IDS="12, 34,56").ADMIN_TELEGRAM_IDS == (12, 34, 56)


@pytest.mark.parametrize(("name", "value"), [
    ("HTTP_PORT", "eighty"),
    ("HTTP_PORT", "70000"),
    ("DATABASE_URL", "mysql://localhost/db"),
    ("REDIS_URL", "localhost:6379"),
    ("TELEGRAM_BOT_TOKEN", "not-a-token"),
    ("TELEGRAM_WEBHOOK_URL", "http://insecure.example/hook"),
    ("ADMIN_TELEGRAM_IDS", "12,abc"),
    ("LOG_LEVEL", "LOUD"),
    ("HEALTH_TIMEOUT_S", "0"),
])
def test_bad_value_names_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **{name: value})
    assert name in str(caught.value)


def test_two_listeners_on_one_port_are_refused_naming_both() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, HTTP_PORT="9101")  # HAProxy's metrics exporter's default port
    assert "HAPROXY_METRICS_PORT and HTTP_PORT are both 9101" in str(caught.value)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("LLM_MODEL=my-model\nADMIN_TELEGRAM_IDS=7\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.LLM_MODEL == "my-model" and settings.ADMIN_TELEGRAM_IDS == (7,)


def test_cli_refuses_a_bad_setting_at_start(tmp_path: Path) -> None:
    ustadh = Path(sys.executable).with_name("ustadh")
    result = subprocess.run([str(ustadh), "up"], env={"PATH": "/usr/bin:/bin", "HTTP_PORT": "nope"},
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "HTTP_PORT" in result.stderr


def test_a_cluster_is_refused_embedded_stores_and_a_machine_local_model() -> None:
    servers = {"DATABASE_URL": "postgresql://ustadh@db.internal/ustadh", "REDIS_URL": "redis://cache.internal:6379/0",
               "MILVUS_URI": "http://milvus.internal:19530"}
    with pytest.raises(SettingsError, match="set DATABASE_URL, REDIS_URL, MILVUS_URI to servers"):
        load_settings(_env_file=None, RAY_ADDRESS="auto")
    with pytest.raises(SettingsError, match="set MILVUS_URI to servers"):
        load_settings(_env_file=None, RAY_ADDRESS="auto", **{**servers, "MILVUS_URI": "/data/milvus.db"})
    with pytest.raises(SettingsError, match="LOCAL_LLM=off"):
        load_settings(_env_file=None, RAY_ADDRESS="auto", **servers)
    assert load_settings(_env_file=None, RAY_ADDRESS="auto", LOCAL_LLM="off", **servers).RAY_ADDRESS == "auto"
    assert load_settings(_env_file=None, RAY_ADDRESS="auto", OPENAI_BASE_URL="http://llm.internal:8080/v1",
                         **servers).llm_endpoint_configured
