"""Typed settings for every Ustadh process, read from the environment and `.env`.

One `Settings` object is resolved by the supervisor (`ustadh up`) and handed to actors and Serve
deployments as a constructor argument, so every process sees the same values, including the URLs
of embedded servers that only exist after start-up.
"""
from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$|^\d+:TEST-[A-Za-z0-9_-]+$")


class LogLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class SettingsError(ValueError):
    """A setting has a bad value; the message names the setting."""


class Settings(BaseSettings):
    """Every knob of the system; the README's configuration table documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=True, frozen=True)

    DATA_DIR: Path = Path(".data")
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    MILVUS_URI: str | None = None

    OPENAI_BASE_URL: str | None = None
    OPENAI_API_KEY: SecretStr | None = None
    LLM_BASE_URL: str | None = None
    LLM_MODEL: str = "gpt-4o-mini"
    EMBEDDING_MODEL: str = "text-embedding-3-small"

    TELEGRAM_BOT_TOKEN: SecretStr | None = None
    TELEGRAM_API_BASE: str | None = None
    TELEGRAM_WEBHOOK_URL: str | None = None
    TELEGRAM_WEBHOOK_SECRET: SecretStr | None = None
    ADMIN_TELEGRAM_IDS: Annotated[tuple[int, ...], NoDecode] = ()

    HTTP_HOST: str = "127.0.0.1"
    HTTP_PORT: int = Field(8000, ge=1, le=65535)
    DASHBOARD_PORT: int = Field(8265, ge=1, le=65535)
    SERVE_INGRESS: Literal["haproxy", "proxy"] = "haproxy"
    HAPROXY_STATS_PORT: int = Field(8404, ge=1, le=65535)
    HAPROXY_METRICS_PORT: int = Field(9101, ge=1, le=65535)
    SERVE_FALLBACK_PORT: int = Field(8500, ge=1, le=65535)
    RAY_ADDRESS: str | None = None
    ACTOR_PLACEMENT: Literal["spread", "pack"] = "spread"
    SERVE_PROXY_LOCATION: Literal["EveryNode", "HeadOnly"] = "EveryNode"
    RAY_NUM_CPUS: int | None = Field(None, ge=1)
    RAY_OBJECT_STORE_MB: int = Field(256, ge=80)

    RETRIEVER_REPLICAS_MIN: int = Field(1, ge=1, le=256)
    RETRIEVER_REPLICAS_MAX: int = Field(2, ge=1, le=256)
    RETRIEVER_TARGET_ONGOING: float = Field(16.0, gt=0, le=64)
    TUTOR_REPLICAS_MIN: int = Field(1, ge=1, le=256)
    TUTOR_REPLICAS_MAX: int = Field(2, ge=1, le=256)
    TUTOR_TARGET_ONGOING: float = Field(8.0, gt=0, le=100)
    SERVE_UPSCALE_DELAY_S: float = Field(30.0, ge=0, le=3600)
    SERVE_DOWNSCALE_DELAY_S: float = Field(600.0, ge=0, le=86_400)

    HEALTH_TIMEOUT_S: float = Field(1.5, gt=0, le=10)
    AUTH_CACHE_S: float = Field(5.0, ge=0, le=300)

    WALLET_SHARDS: int = Field(1, ge=1, le=64)
    WALLET_BATCH_MAX: int = Field(512, ge=1, le=10_000)
    WALLET_BATCH_WINDOW_MS: float = Field(0.0, ge=0, le=100)
    WALLET_EXPIRY_SWEEP_S: float = Field(5.0, gt=0, le=3600)
    RECONCILE_EVERY_MIN: float = Field(60.0, gt=0, le=10080)
    EXPORT_EVERY_H: float = Field(24.0, ge=0, le=24 * 365)
    EXPORT_KEEP: int = Field(7, ge=1, le=1000)
    WALLET_RESERVATION_TTL_S: float = Field(300.0, gt=0, le=30 * 24 * 3600)
    WALLET_RETRY_S: float = Field(60.0, gt=0, le=600)
    EMBED_BATCH_MAX: int = Field(64, ge=1, le=2048)
    EMBED_BATCH_WINDOW_MS: float = Field(5.0, ge=0, le=1000)
    CHUNK_TOKENS: int = Field(256, ge=16, le=8192)
    CHUNK_OVERLAP_TOKENS: int = Field(32, ge=0, le=4096)
    INGEST_MAX_MB: float = Field(20.0, gt=0, le=1024)
    INGEST_WORKERS: int = Field(32, ge=1, le=64)
    INGEST_MAX_ATTEMPTS: int = Field(5, ge=1, le=100)
    INGEST_RETRY_BASE_S: float = Field(2.0, gt=0, le=3600)
    INGEST_FETCH_TIMEOUT_S: float = Field(30.0, gt=0, le=600)
    CHUNK_CACHE_TTL_S: int = Field(86_400, ge=1)
    LLM_TIMEOUT_S: float = Field(30.0, gt=0, le=600)
    LLM_RERANK: Literal["auto", "on", "off"] = "auto"
    LLM_TRANSLATE_QUERIES: Literal["auto", "on", "off"] = "auto"
    LOCAL_LLM: Literal["auto", "off"] = "auto"
    LOCAL_LLM_MODEL: Literal["qwen2.5-1.5b", "smollm2-135m"] = "qwen2.5-1.5b"
    LOCAL_LLM_PORT: int = Field(8600, ge=1, le=65535)
    LOCAL_LLM_THREADS: int = Field(2, ge=1, le=256)
    LOCAL_LLM_CONTEXT: int = Field(4096, ge=512, le=32_768)
    LOCAL_LLM_PROMPT_TOKENS: int = Field(1000, ge=256, le=32_768)
    LOCAL_LLM_TIMEOUT_S: float = Field(180.0, gt=0, le=3600)
    LLM_WAIT_NOTICE_S: float = Field(20.0, gt=0, le=600)
    STREAM_COALESCE_MS: float = Field(150.0, ge=0, le=2000)
    LOCAL_LLM_URL: str | None = None
    LOCAL_LLM_KEY: SecretStr | None = None
    LLM_BREAKER_FAILURES: int = Field(3, ge=1, le=100)
    LLM_BREAKER_COOLDOWN_S: float = Field(30.0, gt=0, le=3600)
    ANSWER_CONTEXT_TOKENS: int = Field(3000, ge=256, le=100_000)
    MEMORY_TURNS: int = Field(3, ge=0, le=20)
    MEMORY_TTL_S: int = Field(1800, ge=1)
    RATE_LIMIT_GLOBAL_PER_S: int = Field(50, ge=1)
    QUIZ_MAX_QUESTIONS: int = Field(10, ge=1, le=20)
    STREAM_INTERVAL_S: float = Field(1.0, ge=0.05, le=10)
    SCRAPE_USER_AGENT: str = Field("UstadhBot/1.0 (+https://github.com/ustadh; tutoring corpus)", min_length=1)
    SCRAPE_HOST_DELAY_S: float = Field(3.0, ge=0, le=3600)
    SCRAPE_TIMEOUT_S: float = Field(15.0, gt=0, le=600)
    SCRAPE_MAX_PAGE_MB: float = Field(2.0, gt=0, le=1024)
    SCRAPE_MAX_REDIRECTS: int = Field(5, ge=0, le=20)
    SCRAPE_ALLOW: Annotated[tuple[str, ...], NoDecode] = ()
    LOG_JSON: bool = False
    LOG_LEVEL: LogLevel = LogLevel.INFO

    @field_validator("ADMIN_TELEGRAM_IDS", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("SCRAPE_ALLOW", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.lower() for part in value.replace(" ", "").split(",") if part)
        return value

    @field_validator("DATA_DIR")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("TELEGRAM_BOT_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("must look like '<digits>:<secret>' as given by @BotFather")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value or None

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("OPENAI_BASE_URL", "LLM_BASE_URL", "LOCAL_LLM_URL", "TELEGRAM_API_BASE", "TELEGRAM_WEBHOOK_URL",
                     "RAY_ADDRESS")
    @classmethod
    def _http_url(cls, value: str | None, info: object) -> str | None:
        name = getattr(info, "field_name", "")
        if value and name != "RAY_ADDRESS" and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        if value and name == "TELEGRAM_WEBHOOK_URL" and not value.startswith("https://"):
            raise ValueError("Telegram only delivers webhooks to https:// URLs")
        return value or None

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.CHUNK_OVERLAP_TOKENS >= self.CHUNK_TOKENS:
            raise ValueError("CHUNK_OVERLAP_TOKENS must be less than CHUNK_TOKENS")
        return self

    @model_validator(mode="after")
    def _replicas_ordered(self) -> Settings:
        for name in ("RETRIEVER", "TUTOR"):
            low, high = getattr(self, f"{name}_REPLICAS_MIN"), getattr(self, f"{name}_REPLICAS_MAX")
            if low > high:
                raise ValueError(f"{name}_REPLICAS_MIN ({low}) must not exceed {name}_REPLICAS_MAX ({high})")
        return self

    @model_validator(mode="after")
    def _cluster_needs_servers(self) -> Settings:
        """On a Ray cluster (RAY_ADDRESS) actors and replicas run on other machines: the embedded
        stores (Unix sockets and a Milvus Lite file under DATA_DIR) and the local model server
        (127.0.0.1 of the machine running `ustadh up`) are out of their reach."""
        if self.RAY_ADDRESS is None:
            return self
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if getattr(self, name) is None]
        if not (self.MILVUS_URI or "").startswith(("http://", "https://", "tcp://")):
            missing.append("MILVUS_URI")  # unset or a Milvus Lite file: a server is needed
        if missing:
            raise ValueError(f"RAY_ADDRESS joins a cluster, whose nodes cannot reach embedded stores: set "
                             f"{', '.join(missing)} to servers every node reaches")
        if self.LOCAL_LLM == "auto" and not self.llm_endpoint_configured and self.LOCAL_LLM_URL is None:
            raise ValueError("RAY_ADDRESS joins a cluster, whose nodes cannot reach a local model on this machine: "
                             "set OPENAI_BASE_URL (or LLM_BASE_URL) to a model server every node reaches, "
                             "or LOCAL_LLM=off")
        return self

    def autoscaling(self, deployment: Literal["RETRIEVER", "TUTOR"]) -> dict[str, float]:
        """Serve's autoscaling_config for the Retriever or the Tutor deployment."""
        return {"min_replicas": getattr(self, f"{deployment}_REPLICAS_MIN"),
                "max_replicas": getattr(self, f"{deployment}_REPLICAS_MAX"),
                "target_ongoing_requests": getattr(self, f"{deployment}_TARGET_ONGOING"),
                "upscale_delay_s": self.SERVE_UPSCALE_DELAY_S, "downscale_delay_s": self.SERVE_DOWNSCALE_DELAY_S}

    @model_validator(mode="after")
    def _ports_distinct(self) -> Settings:
        names = ("HTTP_PORT", "DASHBOARD_PORT", "HAPROXY_STATS_PORT", "HAPROXY_METRICS_PORT", "SERVE_FALLBACK_PORT",
                 "LOCAL_LLM_PORT")
        taken: dict[int, str] = {}
        for name in names:
            port = getattr(self, name)
            if port in taken:
                raise ValueError(f"{name} and {taken[port]} are both {port}: each needs its own port")
            taken[port] = name
        return self

    @property
    def run_dir(self) -> Path:
        return self.DATA_DIR / "run"

    @property
    def log_file(self) -> Path:
        return self.DATA_DIR / "logs" / "ustadh.jsonl"

    @property
    def milvus_uri(self) -> str:
        return self.MILVUS_URI or str(self.DATA_DIR / "milvus.db")

    @property
    def models_dir(self) -> Path:
        """Where local model files are assembled from their packages (`core.llm.local_models`)."""
        return self.DATA_DIR / "models"

    @property
    def ingest_dir(self) -> Path:
        """Where ingestion jobs keep their input and the output of each finished stage."""
        return self.DATA_DIR / "ingest"

    @property
    def exports_dir(self) -> Path:
        """Where the scheduled exports go (EXPORT_EVERY_H), the last EXPORT_KEEP kept."""
        return self.DATA_DIR / "exports"

    @property
    def ingest_max_bytes(self) -> int:
        return int(self.INGEST_MAX_MB * 1024 * 1024)

    @property
    def scrape_max_page_bytes(self) -> int:
        return int(self.SCRAPE_MAX_PAGE_MB * 1024 * 1024)

    @property
    def llm_endpoint_configured(self) -> bool:
        """An endpoint was given: it always wins over the local model."""
        return self.LLM_BASE_URL is not None or self.OPENAI_BASE_URL is not None or self.OPENAI_API_KEY is not None

    @property
    def llm_local(self) -> bool:
        """Chat goes to the local model server that `ustadh up` started (LOCAL_LLM_URL)."""
        return not self.llm_endpoint_configured and self.LOCAL_LLM_URL is not None

    @property
    def llm_configured(self) -> bool:
        return self.llm_endpoint_configured or self.llm_local

    @property
    def llm_base_url(self) -> str | None:
        if self.llm_local:
            return self.LOCAL_LLM_URL
        return self.LLM_BASE_URL or self.OPENAI_BASE_URL

    @property
    def llm_timeout_s(self) -> float:
        return self.LOCAL_LLM_TIMEOUT_S if self.llm_local else self.LLM_TIMEOUT_S

    @property
    def answer_context_tokens(self) -> int:
        """The prompt budget of one answer: on the local model, what its CPU serves in time."""
        if self.llm_local:
            return min(self.ANSWER_CONTEXT_TOKENS, self.LOCAL_LLM_PROMPT_TOKENS)
        return self.ANSWER_CONTEXT_TOKENS

    @property
    def llm_reranks(self) -> bool:
        """LLM reranking: on with a remote endpoint; on the local model only when asked ("on"),
        since on 2 cores it costs more than it gains (README, "Local model")."""
        return self.llm_configured and (self.LLM_RERANK == "on" or (self.LLM_RERANK == "auto" and not self.llm_local))

    @property
    def llm_translates_queries(self) -> bool:
        """Query translation for cross-lingual BM25: as `llm_reranks`, measured separately."""
        return self.llm_configured and (self.LLM_TRANSLATE_QUERIES == "on"
                                        or (self.LLM_TRANSLATE_QUERIES == "auto" and not self.llm_local))


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises SettingsError naming the setting and the problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}"
                             for err in exc.errors())
        raise SettingsError(f"invalid setting {problems}") from None
