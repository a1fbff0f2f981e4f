"""The composition root: the one place backends are constructed from settings."""

from __future__ import annotations

import re
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.embedding.base import Embedder
from assistant.embedding.sentence_transformers import SentenceTransformerEmbedder
from assistant.embedding.sparse import SparseEncoder
from assistant.settings import Settings
from assistant.store.base import VectorStore

if TYPE_CHECKING:
    from assistant.retrieval.retriever import Retriever


def collection_name(prefix: str, model_id: str) -> str:
    """One collection per embedding model: vectors of two models never mix."""
    return f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', model_id.lower()).strip('-')}"


class Container:
    """Lazily built services; heavy ones (model, store) load on first use, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.catalog_url)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.db)

    @cached_property
    def embedder(self) -> Embedder:
        cfg = self.settings.embedding
        return SentenceTransformerEmbedder(
            cfg.model, batch_size=cfg.batch_size, device=cfg.device, max_seq_length=cfg.max_seq_length
        )

    @cached_property
    def sparse(self) -> SparseEncoder:
        return SparseEncoder()

    @cached_property
    def retriever(self) -> Retriever:
        from assistant.retrieval.retriever import Retriever

        return Retriever(
            self.store, self.embedder, self.sparse, self.settings.retrieval,
            known_sources=lambda: {row.name for row in self.catalog.list_sources()},
        )

    @cached_property
    def store(self) -> VectorStore:
        cfg = self.settings.store
        name = collection_name(cfg.collection_prefix, self.embedder.model_id)
        if cfg.backend == "server":
            from assistant.store.server import QdrantServerStore

            return QdrantServerStore(name, url=cfg.url, api_key=cfg.api_key)
        from assistant.store.edge import EdgeStore

        return EdgeStore(self.settings.store_dir / name)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "db" in self.__dict__:
            self.db.close()


def build(settings: Settings) -> Container:
    return Container(settings)
