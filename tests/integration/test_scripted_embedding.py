"""The compiled question forward gives sentence-transformers' vectors (its point, running
without the GIL, shows in ``bench/chat_load.py``, not in a test: it is a matter of time)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embedding.scripted_bert import compile_encoder
from assistant.embedding.sentence_transformers import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

QUESTIONS = [
    "where do we retry failed payments?",
    "  HttpClient.send  ",  # sentence-transformers strips; so must we
    "RETRY_LIMIT",
    "a",
    "why does `pytest --collect-only` print nothing for tests/unit/test_x.py::TestY?",
    "Traceback (most recent call last):\n  File \"src/_pytest/python.py\", line 42\nKeyError: 'x'",
    "é ü 日本語 🙂",
    "word " * 400,  # longer than max_seq_length: truncated the same way
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")


def test_compiled_vectors_match_the_library_forward(embedder: SentenceTransformerEmbedder) -> None:
    model = embedder._load()
    assert embedder._compiled(model) is not None, "the bundled model's architecture must compile"
    compiled = np.array(embedder.embed_queries(QUESTIONS))
    reference = model.encode(QUESTIONS, normalize_embeddings=True, convert_to_numpy=True)
    assert compiled.shape == reference.shape == (len(QUESTIONS), 384)
    assert np.abs(compiled - reference).max() < 1e-5
    # Batched with others or alone, a question gets the same vector (padding is masked).
    alone = np.array(embedder.embed_queries([QUESTIONS[0]]))[0]
    assert np.abs(alone - compiled[0]).max() < 1e-5


def test_other_architectures_keep_the_library_forward() -> None:
    class Transformer:  # the right names, an unsupported model inside
        class auto_model:  # noqa: N801
            class config:  # noqa: N801
                model_type, hidden_act, position_embedding_type = "roberta", "gelu", "absolute"

    class Pooling:
        def get_config_dict(self) -> dict[str, object]:
            return {"pooling_mode": "mean"}

    class CLSPooling(Pooling):
        def get_config_dict(self) -> dict[str, object]:
            return {"pooling_mode": "cls"}

    assert compile_encoder([Transformer(), Pooling()]) is None
    assert compile_encoder([Transformer(), CLSPooling()]) is None
    assert compile_encoder([Transformer()]) is None
    assert compile_encoder(object()) is None


def test_without_torchscript_questions_take_the_library_forward(
    embedder: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    model = embedder._load()

    def gone(*_: object, **__: object) -> None:
        raise RuntimeError("torch.jit.script was removed")

    monkeypatch.setattr(torch.jit, "script", gone)
    assert compile_encoder(model) is None
    fallback = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2")
    fallback._model, fallback._query_encoder = model, False  # what _compiled stores when it cannot compile
    eager = np.array(fallback.embed_queries(QUESTIONS[:3]))
    assert np.abs(eager - np.array(embedder.embed_queries(QUESTIONS[:3]))).max() < 1e-5
