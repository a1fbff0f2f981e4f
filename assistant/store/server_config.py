"""Collection settings of a Qdrant server collection: what ``QdrantServerStore`` creates,
what it searches with, and how an existing collection differs from the settings.

A collection's shards, replication and quantization are fixed when it is created (changing
them on a live cluster is an operator's decision: resharding, re-quantizing, a snapshot
first), so Sourcewise applies them to a new collection only and *reports* an existing one
that differs (``Drift``) instead of silently altering it.

Quantization is set on the dense vector itself (``VectorParams.quantization_config``), not
collection-wide: the sparse vector is never quantized, and qdrant-client's local mode keeps
(and reports) per-vector settings, so the contract suite can check what was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qdrant_client import models

from assistant.store.base import DENSE, SPARSE

Quantization = Literal["none", "scalar", "binary"]


@dataclass(frozen=True)
class Drift:
    """One setting an existing collection has otherwise than the settings ask for."""

    setting: str  # the settings field, e.g. ``store.shards``
    wanted: object
    actual: object

    def __str__(self) -> str:
        return f"{self.setting}: settings want {self.wanted!r}, the collection has {self.actual!r}"


@dataclass(frozen=True)
class CollectionConfig:
    """The ``StoreSettings`` fields a server collection is created and searched with."""

    shards: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    on_disk_vectors: bool = False
    on_disk_payload: bool = True
    quantization: Quantization = "none"
    quantization_always_ram: bool = True
    rescore: bool = True
    oversampling: float = 2.0

    @classmethod
    def from_settings(cls, store: Any) -> CollectionConfig:
        """From ``Settings.store`` (duck-typed: the store package does not import settings)."""
        return cls(**{f: getattr(store, f) for f in cls.__dataclass_fields__})

    # -- creation ------------------------------------------------------------------------

    def quantization_config(self) -> models.QuantizationConfig | None:
        if self.quantization == "scalar":
            return models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
                type=models.ScalarType.INT8, quantile=0.99, always_ram=self.quantization_always_ram))
        if self.quantization == "binary":
            return models.BinaryQuantization(
                binary=models.BinaryQuantizationConfig(always_ram=self.quantization_always_ram))
        return None

    def create_kwargs(self, dense_dim: int) -> dict[str, Any]:
        """Keyword arguments of ``QdrantClient.create_collection`` for this config."""
        return {
            "vectors_config": {DENSE: models.VectorParams(
                size=dense_dim, distance=models.Distance.COSINE, on_disk=self.on_disk_vectors,
                quantization_config=self.quantization_config(),
            )},
            "sparse_vectors_config": {SPARSE: models.SparseVectorParams(
                modifier=models.Modifier.IDF,
                index=models.SparseIndexParams(on_disk=self.on_disk_vectors),
            )},
            "shard_number": self.shards,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency_factor,
            "on_disk_payload": self.on_disk_payload,
        }

    # -- search --------------------------------------------------------------------------

    def search_params(self) -> models.SearchParams | None:
        """Dense prefetch parameters: rescoring and oversampling apply to quantized vectors only."""
        if self.quantization == "none":
            return None
        return models.SearchParams(quantization=models.QuantizationSearchParams(
            ignore=False, rescore=self.rescore, oversampling=self.oversampling))

    # -- drift ---------------------------------------------------------------------------

    def drift(self, info: Any) -> list[Drift]:
        """How an existing collection (``get_collection``'s answer) differs from this config.

        A value the engine does not report (``None``: qdrant-client's local mode keeps no
        shards or replication) cannot be compared and is skipped.
        """
        params = info.config.params
        found: list[Drift] = []

        def check(setting: str, wanted: object, actual: object) -> None:
            if actual is not None and actual != wanted:
                found.append(Drift(f"store.{setting}", wanted, actual))

        check("shards", self.shards, params.shard_number)
        check("replication_factor", self.replication_factor, params.replication_factor)
        check("write_consistency_factor", self.write_consistency_factor, params.write_consistency_factor)
        check("on_disk_payload", self.on_disk_payload, params.on_disk_payload)
        vectors = params.vectors
        dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if dense is not None:
            check("on_disk_vectors", self.on_disk_vectors, bool(dense.on_disk))
            quant = dense.quantization_config or info.config.quantization_config
            kind, always_ram = _quantization_of(quant)
            check("quantization", self.quantization, kind)
            if kind != "none" and self.quantization == kind:
                check("quantization_always_ram", self.quantization_always_ram, always_ram)
        return found


def _quantization_of(quant: Any) -> tuple[str, bool | None]:
    """(``none``|``scalar``|``binary``|``product``, always_ram) of a quantization config."""
    if quant is None:
        return "none", None
    for kind in ("scalar", "binary", "product"):
        inner = getattr(quant, kind, None)
        if inner is not None:
            return kind, getattr(inner, "always_ram", None)
    return type(quant).__name__.lower(), None
