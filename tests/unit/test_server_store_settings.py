"""``store.*`` collection settings of a Qdrant server: what is created, what is searched
with, and how an existing collection that differs is reported (never changed).

The drift checks read a ``get_collection`` answer in the shape a real Qdrant server sends
(qdrant-client's local mode does not keep shards or replication, so it cannot show those).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from assistant.api.store_health import StoreHealth
from assistant.errors import ConfigError, StoreError
from assistant.settings import Settings, StoreSettings, load_settings
from assistant.store.server import QdrantServerStore
from assistant.store.server_config import CollectionConfig, Drift


def server_info(**params: Any) -> models.CollectionInfo:
    """``GET /collections/{name}`` as a Qdrant 1.x server answers it (384-dim, defaults)."""
    dense: dict[str, Any] = {"size": 384, "distance": "Cosine"}
    dense |= params.pop("dense", {})
    body = {
        "status": "green", "optimizer_status": "ok", "points_count": 0, "indexed_vectors_count": 0,
        "segments_count": 2, "payload_schema": {},
        "config": {
            "params": {"vectors": {"dense": dense}, "shard_number": 1, "replication_factor": 1,
                       "write_consistency_factor": 1, "on_disk_payload": True,
                       "sparse_vectors": {"sparse": {"modifier": "idf"}}} | params,
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
                            "max_indexing_threads": 0, "on_disk": False},
            "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0, "indexing_threshold": 20000,
                                 "flush_interval_sec": 5},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": None,
        },
    }
    return models.CollectionInfo.model_validate(body)


def test_every_collection_setting_is_a_store_setting() -> None:
    settings = StoreSettings(shards=6, replication_factor=3, write_consistency_factor=2, on_disk_vectors=True,
                             on_disk_payload=False, quantization="binary", quantization_always_ram=False,
                             rescore=False, oversampling=4.0)
    assert CollectionConfig.from_settings(settings) == CollectionConfig(
        shards=6, replication_factor=3, write_consistency_factor=2, on_disk_vectors=True, on_disk_payload=False,
        quantization="binary", quantization_always_ram=False, rescore=False, oversampling=4.0)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"BACKEND": "server", "URL": "http://qdrant:6333", "SHARDS": "4", "REPLICATION_FACTOR": "2",
                       "QUANTIZATION": "scalar", "TIMEOUT_S": "7"}.items():
        monkeypatch.setenv(f"SOURCEWISE_STORE__{key}", value)
    store = Settings().store
    assert (store.backend, store.url, store.shards, store.replication_factor, store.quantization, store.timeout_s) == (
        "server", "http://qdrant:6333", 4, 2, "scalar", 7)


@pytest.mark.parametrize("bad", [{"quantization": "product"}, {"shards": 0}, {"oversampling": 0.5},
                                 {"replication_factor": 1, "write_consistency_factor": 2}])
def test_impossible_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="store"):
        load_settings(store=bad)


def test_create_kwargs_carry_every_setting() -> None:
    kw = CollectionConfig(shards=3, replication_factor=2, write_consistency_factor=2, on_disk_vectors=True,
                          on_disk_payload=False, quantization="scalar", quantization_always_ram=False).create_kwargs(384)
    dense = kw["vectors_config"]["dense"]
    assert (dense.size, dense.distance, dense.on_disk) == (384, models.Distance.COSINE, True)
    assert dense.quantization_config.scalar.type == models.ScalarType.INT8
    assert dense.quantization_config.scalar.always_ram is False
    assert kw["sparse_vectors_config"]["sparse"].modifier == models.Modifier.IDF
    assert kw["sparse_vectors_config"]["sparse"].index.on_disk is True
    assert (kw["shard_number"], kw["replication_factor"], kw["write_consistency_factor"], kw["on_disk_payload"]) == (
        3, 2, 2, False)
    binary = CollectionConfig(quantization="binary").create_kwargs(768)["vectors_config"]["dense"]
    assert binary.quantization_config.binary.always_ram is True


def test_search_params_only_with_quantization() -> None:
    assert CollectionConfig().search_params() is None
    params = CollectionConfig(quantization="scalar", rescore=False, oversampling=3.0).search_params()
    assert params is not None and params.quantization is not None
    assert (params.quantization.ignore, params.quantization.rescore, params.quantization.oversampling) == (
        False, False, 3.0)


def test_a_matching_server_collection_has_no_drift() -> None:
    assert CollectionConfig().drift(server_info()) == []
    quantized = server_info(dense={"on_disk": True, "quantization_config": {
        "scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}})
    assert CollectionConfig(on_disk_vectors=True, quantization="scalar").drift(quantized) == []


def test_drift_names_setting_wanted_and_actual() -> None:
    info = server_info(shard_number=2, replication_factor=1, on_disk_payload=False,
                       dense={"quantization_config": {"binary": {"always_ram": False}}})
    wanted = CollectionConfig(shards=6, replication_factor=1, on_disk_payload=True, quantization="binary",
                              quantization_always_ram=True)
    assert wanted.drift(info) == [
        Drift("store.shards", 6, 2),
        Drift("store.on_disk_payload", True, False),
        Drift("store.quantization_always_ram", True, False),
    ]
    assert str(Drift("store.shards", 6, 2)) == "store.shards: settings want 6, the collection has 2"


def test_collection_wide_quantization_counts_too() -> None:
    info = server_info()
    info.config.quantization_config = models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8))
    assert CollectionConfig().drift(info) == [Drift("store.quantization", "none", "scalar")]


class _Reporting:
    """A qdrant-client stand-in answering ``get_collection`` with a server-shaped config."""

    def __init__(self, info: models.CollectionInfo) -> None:
        self.info = info

    def get_collection(self, name: str) -> models.CollectionInfo:
        return self.info


def test_the_store_logs_drift_once_and_status_shows_it(caplog: pytest.LogCaptureFixture) -> None:
    from sourcewise.reports import store_config_warnings

    store = QdrantServerStore("sw", client=_Reporting(server_info(shard_number=2)),  # type: ignore[arg-type]
                              config=CollectionConfig(shards=4))
    with caplog.at_level(logging.WARNING, logger="sourcewise.store"):
        assert store.config_drift() == [Drift("store.shards", 4, 2)]
        store.config_drift()
    assert caplog.text.count("store.shards: settings want 4, the collection has 2") == 1

    class _Container:
        settings = load_settings(store={"backend": "server", "url": "http://q:6333"})

    _Container.store = store  # type: ignore[attr-defined]
    (line,) = store_config_warnings(_Container())
    assert "'sw' differs from the settings and was not changed" in line and "store.shards" in line


def test_status_warns_on_stderr_when_the_server_is_down(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sourcewise status` still lists the catalog; the store's trouble is a warning on stderr."""
    import socket

    from sourcewise.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SOURCEWISE_HOME", str(tmp_path))
    monkeypatch.setenv("SOURCEWISE_STORE__BACKEND", "server")
    monkeypatch.setenv("SOURCEWISE_STORE__URL", f"http://127.0.0.1:{port}")
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert f"the Qdrant server at http://127.0.0.1:{port} is not answering" in result.stderr
    assert result.stdout.strip().startswith("[")  # the JSON on stdout stays parseable


# -- /healthz's probe -----------------------------------------------------------------------


def test_health_probe_is_not_sticky() -> None:
    state = {"up": False}
    calls = []

    def probe() -> None:
        calls.append(1)
        if not state["up"]:
            raise StoreError("the Qdrant server at http://q:6333 is not answering")

    health = StoreHealth(probe, ttl_s=0.0)
    assert asyncio.run(health.up()) is False
    state["up"] = True
    assert asyncio.run(health.up()) is True
    assert len(calls) == 2


def test_health_probe_reuses_a_recent_result() -> None:
    calls = []
    health = StoreHealth(lambda: calls.append(1), ttl_s=3600)
    assert asyncio.run(health.up()) and asyncio.run(health.up())
    assert len(calls) == 1  # a flood of /healthz is not a flood of requests to Qdrant


def test_a_hanging_server_is_down_without_blocking_healthz() -> None:
    release = threading.Event()
    health = StoreHealth(lambda: release.wait(30) and None, ttl_s=0.0, wait_s=0.05)
    try:
        assert asyncio.run(health.up()) is False
        assert asyncio.run(health.up()) is False  # the one probe in flight is awaited, not a second
        assert len([t for t in threading.enumerate() if t.name == "store-health"]) == 1
    finally:
        release.set()


def test_a_real_client_on_a_dead_port_is_down() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = QdrantServerStore("sw", client=QdrantClient(url=f"http://127.0.0.1:{port}", timeout=5,
                                                        check_compatibility=False))
    assert asyncio.run(StoreHealth(store.ping).up()) is False
