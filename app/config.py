"""Settings: the one place environment variables are read.

Every setting is `DATAVISOR_<NAME>` in the environment or in an env file. The env file is read only from
an explicit place: `DATAVISOR_ENV_FILE=PATH` (a missing file is an error), none when it is set empty (the
units and the image: their settings come from the environment alone), and `.env` in the working directory
only when it is unset (development: `make run` in a checkout). A service never reads settings from a
directory it can write to.
List settings accept JSON (`["a","b"]`) or a comma-separated string (`a,b`).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "DATAVISOR_"
ENV_FILE_VARIABLE = "DATAVISOR_ENV_FILE"
DEVELOPMENT_ENV_FILE = Path(".env")
_BYTE_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _split_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,  # load_settings() passes the one file it may read
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    db_path: Path = Field(
        Path("data/datavisor.duckdb"),
        description="DuckDB database file; its directory is the state directory.",
    )
    host: str = Field("127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port uvicorn binds to.")
    behind_proxy: bool = Field(
        False,
        description="Served same-origin behind a reverse proxy: no CORS middleware at all, X-Forwarded-* "
        "headers trusted from forwarded_allow_ips.",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Addresses whose X-Forwarded-* headers are trusted when behind_proxy (the local proxy).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"],
        description="Origins allowed by CORS (with credentials) when not behind a proxy. '*' is refused.",
    )
    plugin_dir: Path = Field(Path("plugins"), description="Directory holding plugin packages.")
    plugins_enabled: Annotated[list[str], NoDecode] | None = Field(
        None, description="Plugin names to load; unset loads every plugin found in plugin_dir."
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [Path("datasets")],
        description="Directories datasets may be read from; nothing outside them is ever read or served.",
    )
    thumbnail_cache_dir: Path | None = Field(
        None, description="Thumbnail cache; defaults to <state directory>/thumbnails."
    )
    graceful_shutdown_timeout: int = Field(
        20, ge=1, le=3600, description="Seconds uvicorn waits for open requests on shutdown."
    )
    torch_threads: int = Field(1, ge=1, le=256, description="Threads torch may use for embeddings.")
    embedding_model: Path | None = Field(
        None, description="TorchScript model file for embeddings; unset uses EfficientNet-Lite0."
    )
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Arithmetic of the default model: bfloat16 is ~2.5x faster on CPUs with native bf16 "
        "(AVX512-BF16/AMX; 'auto' uses it there) and changes vectors by <0.2% (cosine >= 0.998).",
    )
    duckdb_memory_limit: str | None = Field(
        None, description="DuckDB memory_limit (e.g. 4GB); unset keeps DuckDB's default (80% of RAM)."
    )
    duckdb_checkpoint_threshold: str | None = Field(
        None, description="WAL size that triggers an automatic checkpoint (DuckDB default 16MiB)."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Log level of the app and uvicorn."
    )

    @field_validator("cors_origins", "data_roots", "plugins_enabled", "forwarded_allow_ips", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("duckdb_memory_limit", "duckdb_checkpoint_threshold")
    @classmethod
    def _byte_size(cls, value: str | None) -> str | None:
        if value is not None and not _BYTE_SIZE.fullmatch(value.strip()):
            raise ValueError("expected a size such as 512MB, 4GB or 1GiB")
        return value.strip() if value else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, origins: list[str]) -> list[str]:
        if "*" in origins:
            raise ValueError(
                "'*' cannot be combined with credentials; list the exact origins (e.g. https://ui.example.org)"
            )
        for origin in origins:
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise ValueError(f"{origin!r} is not an origin like https://host[:port] (no trailing slash)")
        return origins

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        self.db_path = self.db_path.expanduser().absolute()
        self.plugin_dir = self.plugin_dir.expanduser().absolute()
        self.data_roots = [root.expanduser().resolve() for root in self.data_roots]
        if self.thumbnail_cache_dir is None:
            self.thumbnail_cache_dir = self.state_dir / "thumbnails"
        self.thumbnail_cache_dir = self.thumbnail_cache_dir.expanduser().absolute()
        return self

    @property
    def state_dir(self) -> Path:
        return self.db_path.parent


class ConfigError(SystemExit):
    """Raised (and exits with status 2) when the configuration is invalid; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        name = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
        parts.append(f"{name}: {message}{shown}")
    return "invalid configuration: " + "; ".join(parts)


def env_file() -> Path | None:
    """The one env file settings may come from (see the module docstring)."""
    value = os.environ.get(ENV_FILE_VARIABLE)
    if value is None:
        return DEVELOPMENT_ENV_FILE
    if not value.strip():
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"invalid configuration: {ENV_FILE_VARIABLE}: {path} is not a file")
    return path


def load_settings(**overrides: object) -> Settings:
    if "_env_file" not in overrides:
        overrides["_env_file"] = env_file()
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except (ValueError, json.JSONDecodeError) as error:  # malformed JSON list in the environment
        raise ConfigError(f"invalid configuration: {error}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
