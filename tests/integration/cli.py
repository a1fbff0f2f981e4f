"""Run the real `sourcewise` CLI in a subprocess against a data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.catalog.db import Database
from assistant.catalog.repo import Catalog
from assistant.catalog.symbols import SymbolCatalog
from assistant.container import collection_name


def run_cli(home: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SOURCEWISE_HOME": str(home), **(env or {})}
    full_env.pop("SOURCEWISE_TEST_CRASH_AT", None) if not env or "SOURCEWISE_TEST_CRASH_AT" not in env else None
    proc = subprocess.run([sys.executable, "-m", "sourcewise.cli", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, cwd=home.parent)
    if check and proc.returncode != 0:
        raise AssertionError(f"sourcewise {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_json(home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(run_cli(home, *args, "--json", env=env).stdout)


def snapshot(home: Path) -> dict[str, Any]:
    """Everything a clean run determines: catalog rows and store points (no timestamps)."""
    from assistant.store.edge import EdgeStore

    catalog = Catalog(Database(f"sqlite:///{home}/catalog.db"))
    symbols = SymbolCatalog(catalog.db)
    docs, tables, references = {}, {}, {}
    for src in catalog.list_sources():
        documents = catalog.documents(src.id)
        for d in documents:
            docs[d.doc_id] = (d.content_hash, d.meta_hash, d.chunk_count, d.version, d.owner,
                              d.updated_at.isoformat(), d.model_id)
        pending = catalog.pending(src.id)
        assert not pending, f"pending writes left: {pending}"
        # symbol tables of the current files (older blobs stay on purpose: history)
        tables[src.name] = symbols.definitions(src.id, [(d.path, d.content_hash) for d in documents])
        references[src.name] = (symbols.references(src.id), {
            doc_id: (scan.blob, scan.count, scan.truncated, scan.ignored, scan.code_languages)
            for doc_id, scan in symbols.scanned_docs(src.id).items()})
    catalog.db.close()
    store = EdgeStore(home / "qdrant" / collection_name("sourcewise", "all-MiniLM-L6-v2"))
    points = {h.id: dict(h.payload) for h in store.points()}
    store.close()
    return {"docs": docs, "points": points, "symbols": tables, "references": references}
