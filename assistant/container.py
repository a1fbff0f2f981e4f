"""The composition root: the one place backends are constructed from settings."""

from __future__ import annotations

import re
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from assistant.app_settings import AppSettings
from assistant.audit import AuditLog
from assistant.catalog.db import Database
from assistant.catalog.jobs import JobQueue
from assistant.catalog.repo import Catalog
from assistant.embedding.base import Embedder
from assistant.embedding.sentence_transformers import SentenceTransformerEmbedder
from assistant.embedding.sparse import SparseEncoder
from assistant.feedback import FeedbackService
from assistant.findings import FindingsService
from assistant.metrics import NullMetrics, build_metrics
from assistant.notify import Notifier
from assistant.owners import OwnerQueue
from assistant.settings import Settings
from assistant.staleness import Weights
from assistant.store.base import VectorStore
from assistant.users import UserStore

if TYPE_CHECKING:
    from assistant.retrieval.retriever import Retriever


def collection_name(prefix: str, model_id: str) -> str:
    """One collection per embedding model: vectors of two models never mix."""
    return f"{prefix}-{re.sub(r'[^a-z0-9]+', '-', model_id.lower()).strip('-')}"


class Container:
    """Lazily built services; heavy ones (model, store) load on first use, once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One index run at a time in this process (the admin pages and "mark fixed" run
        # them inside the server, which already holds the embedded store).
        self.index_lock = threading.Lock()

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.catalog_url, pool=self.settings.catalog)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.db)

    @cached_property
    def jobs(self) -> JobQueue:
        """The indexing job queue every door enqueues on and every worker claims from."""
        return JobQueue(self.db, max_attempts=self.settings.workers.max_attempts)

    @cached_property
    def embedder(self) -> Embedder:
        cfg = self.settings.embedding
        return SentenceTransformerEmbedder(
            cfg.model, batch_size=cfg.batch_size, device=cfg.device, max_seq_length=cfg.max_seq_length,
            threads=cfg.threads,
        )

    @cached_property
    def sparse(self) -> SparseEncoder:
        return SparseEncoder()

    @cached_property
    def retriever(self) -> Retriever:
        from assistant.retrieval.retriever import Retriever

        from assistant.access import source_groups
        from assistant.embedding.batching import QueryBatcher

        # Concurrent questions (chat sessions, API calls) share forward passes.
        return Retriever(
            self.store, QueryBatcher(self.embedder), self.sparse, self.settings.retrieval,
            known_sources=lambda: source_groups(self.db),
        )

    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.db, scrypt_n=self.settings.auth.scrypt_n)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    @cached_property
    def app_settings(self) -> AppSettings:
        return AppSettings(self.db)

    @cached_property
    def notifier(self) -> Notifier:
        ui = self.settings.ui
        return Notifier(self.db, ui.webhook_url, digest=ui.digest_hour is not None, public_url=ui.public_url)

    @cached_property
    def metrics(self) -> NullMetrics:
        """This process's Prometheus registry (``assistant.metrics``); the catalog opens at scrape time."""
        return build_metrics(self.settings, db=_LazyDb(self))

    @cached_property
    def feedback(self) -> FeedbackService:
        return FeedbackService(self.db, self.audit, self.notifier, metrics=self.metrics)

    @cached_property
    def owners(self) -> OwnerQueue:
        # The store opens only when an action needs it (reading the queue does not).
        return OwnerQueue(self.db, lambda: self.store, self.audit, self.notifier,
                          citation_window_days=self.settings.ui.citation_window_days, metrics=self.metrics)

    @cached_property
    def findings(self) -> FindingsService:
        # Reading findings needs no store; dismissing one rescores its document's points.
        return FindingsService(self.db, self.audit, lambda: self.store,
                               Weights.from_settings(self.settings.staleness), metrics=self.metrics)

    @cached_property
    def store(self) -> VectorStore:
        cfg = self.settings.store
        name = collection_name(cfg.collection_prefix, self.embedder.model_id)
        if cfg.backend == "server":
            from assistant.store.server import QdrantServerStore
            from assistant.store.server_config import CollectionConfig

            return QdrantServerStore(name, url=cfg.url, api_key=cfg.api_key, timeout_s=cfg.timeout_s,
                                     config=CollectionConfig.from_settings(cfg))
        from assistant.store.edge import EdgeStore
        from assistant.store.edge_config import tuning_from

        tuning = tuning_from(cfg.edge_quantization, cfg.edge_oversampling, cfg.edge_payload_hnsw,
                             cfg.edge_optimize_every, cfg.edge_indexing_threads)
        return EdgeStore(self.settings.store_dir / name, tuning)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if "db" in self.__dict__:
            self.db.close()


class _LazyDb:
    """The container's catalog, opened on first use (building the metrics must not open it)."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def session(self) -> Any:
        return self._container.db.session()


def build(settings: Settings) -> Container:
    return Container(settings)
