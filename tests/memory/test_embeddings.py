"""MiniLM on ONNX Runtime: the same vectors as sentence-transformers on PyTorch, a cached export that a
new process loads without torch, and recovery from a broken cache or a failed export."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memory import embeddings
from memory.embeddings import DIMENSIONS, Embedder, load_embedder

LONG = " ".join(f"visit {i}: the advisor replaced the front brake pads and rotated the tires" for i in range(60))
TEXTS = [
    "is the blue tacoma still there",
    "What are your service hours on Saturday?",
    LONG,  # far past the 256-token truncation
    "Précio do Corolla? 🚗🚗 ¿y el financiamiento?",
    "",
    "   ",
    "a",
    "I'd like to book an oil change for my 2019 Honda Civic next Tuesday morning, around 9 if you have it",
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return load_embedder(runtime="torch")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def onnx_embedder(cache_dir: Path) -> Embedder:
    return load_embedder(cache_dir)


def test_onnx_gives_the_pytorch_vectors(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    assert onnx_embedder.runtime == "onnx" and torch_embedder.runtime == "torch"
    got, want = np.array(onnx_embedder.embed(TEXTS)), np.array(torch_embedder.embed(TEXTS))
    assert got.shape == (len(TEXTS), DIMENSIONS)
    assert np.abs(got - want).max() < 1e-5
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # One at a time (no padding) and in a batch (padded to the longest) are the same vectors.
    assert np.abs(np.array(onnx_embedder.embed_one(TEXTS[0])) - got[0]).max() < 1e-5
    # More texts than one batch, in an order that mixes lengths: each vector stays with its text.
    many = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(embeddings.BATCH_SIZE + 17)]
    assert np.abs(np.array(onnx_embedder.embed(many)) - np.array(torch_embedder.embed(many))).max() < 1e-5


def test_a_new_process_loads_the_cached_export_without_torch(onnx_embedder: Embedder, cache_dir: Path) -> None:
    files = sorted(p.name for p in cache_dir.iterdir())
    assert len(files) == 2 and files[0].endswith(".onnx") and files[1].endswith(".probes.npy")
    script = (
        "import json, sys; from pathlib import Path; from memory.embeddings import load_embedder; "
        f"e = load_embedder(Path({str(cache_dir)!r})); "
        f"print(json.dumps({{'runtime': e.runtime, 'torch': 'torch' in sys.modules, 'v': e.embed_one({TEXTS[1]!r})}}))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["runtime"] == "onnx" and result["torch"] is False
    assert np.abs(np.array(result["v"]) - np.array(onnx_embedder.embed_one(TEXTS[1]))).max() < 1e-6
    assert sorted(p.name for p in cache_dir.iterdir()) == files  # nothing exported again


def test_a_broken_cached_export_is_made_again(
    tmp_path: Path, cache_dir: Path, torch_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    for f in cache_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    model = next(tmp_path.glob("*.onnx"))
    model.write_bytes(model.read_bytes()[: 1 << 20])  # a truncated copy
    stale = tmp_path / "minilm-0000000000000000.onnx"  # an export of an earlier model version
    stale.write_bytes(b"old")
    killed = tmp_path / ".minilm-0000000000000000.onnx.123.456.tmp"  # a write that was killed
    killed.write_bytes(b"half")
    with caplog.at_level(logging.WARNING, logger="memory.embeddings"):
        embedder = load_embedder(tmp_path)
    assert embedder.runtime == "onnx" and "unusable" in caplog.text
    assert model.stat().st_size > 50 << 20  # replaced by a whole export
    assert np.abs(np.array(embedder.embed(TEXTS)) - np.array(torch_embedder.embed(TEXTS))).max() < 1e-5
    assert not list(tmp_path.glob(".*.tmp"))
    assert not stale.exists() and not killed.exists() and len(list(tmp_path.iterdir())) == 2  # superseded: removed


def test_vectors_that_no_longer_match_the_stored_probes_are_not_used(
    tmp_path: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for f in cache_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    probes = next(tmp_path.glob("*.probes.npy"))
    np.save(probes, np.roll(np.load(probes), 1, axis=1))  # what a different model would give
    with caplog.at_level(logging.WARNING, logger="memory.embeddings"):
        embedder = load_embedder(tmp_path)
    assert embedder.runtime == "onnx" and "differ" in caplog.text
    assert np.abs(np.load(probes) - np.array(embedder.embed(list(embeddings.PROBES)))).max() < 1e-5


def test_a_failed_export_falls_back_to_pytorch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(model: object) -> bytes:
        raise RuntimeError("exporter missing")

    monkeypatch.setattr(embeddings, "_export", broken)
    with caplog.at_level(logging.WARNING, logger="memory.embeddings"):
        embedder = load_embedder(tmp_path)
    assert embedder.runtime == "torch" and "exporter missing" in caplog.text
    assert len(embedder.embed_one("hello")) == DIMENSIONS
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding runtime"):
        load_embedder(runtime="tensorflow")
