"""The exact-match keys the indexer writes: a pure function of document + chunk."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.models import Chunk, Document
from indexers.payload import chunk_payload, doc_payload

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def doc(path: str, kind: str = "code", language: str | None = "python") -> Document:
    return Document(doc_id=f"app:{path}", source="app", path=path, kind=kind,  # type: ignore[arg-type]
                    content_hash="h", updated_at=WHEN, version="v", loader=lambda: "", language=language)


def test_doc_payload_has_path_keys_dirs_and_extension() -> None:
    p = doc_payload(doc("src/Payments/Retry.py"), ["everyone"], {}, "m")
    assert p["path_keys"][:3] == ["src/payments/retry.py", "src/payments/retry", "payments/retry.py"]
    assert p["dirs"] == ["src", "src/Payments"]
    assert p["ext"] == "py" and p["role"] == "main"
    assert doc_payload(doc("tests/test_retry.py"), ["everyone"], {}, "m")["role"] == "test"
    assert p["status"] == "active" and p["updated_ts"] == int(WHEN.timestamp())
    assert doc_payload(doc("docs/old.md", "docs"), ["everyone"], {"deprecated": True}, "m")["status"] == "deprecated"


def test_chunk_payload_lists_defined_symbols_for_code_only() -> None:
    chunk = Chunk(index=2, text="RETRY_LIMIT = 5\n\ndef retry(x):\n    return x\n", start_line=10,
                  end_line=13, symbol="retry", chunk_kind="function")
    code = chunk_payload(doc("payments/retry.py"), chunk)
    assert code["symbols"] == ["retry", "retry_limit"]
    assert (code["chunk_index"], code["start_line"], code["end_line"]) == (2, 10, 13)
    prose = chunk_payload(doc("docs/retry.md", "docs", "markdown"), chunk)
    assert prose["symbols"] == []
    # markdown inside a code repo is still prose
    assert chunk_payload(doc("README.md", "code", "markdown"), chunk)["symbols"] == []


def test_payloads_are_deterministic() -> None:
    chunk = Chunk(index=0, text="class A:\n    def f(self):\n        pass\n", start_line=1, end_line=3)
    d = doc("a.py")
    assert chunk_payload(d, chunk) == chunk_payload(d, chunk)
    assert doc_payload(d, ["g"], {}, "m") == doc_payload(d, ["g"], {}, "m")
