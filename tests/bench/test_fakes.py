"""The benchmarks' fake embedding model: answers at once with the vectors the real model made."""

from __future__ import annotations

import numpy as np

from bench.fakes import InstantEncoder
from memory.embeddings import Embedder


class CountingModel:
    """Stands in for the bundled model: a distinct unit vector per text, and how many it embedded."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            row[sum(map(ord, text)) % 384] = 1.0
        return out


def test_a_text_made_ready_is_answered_without_the_model_and_with_its_vector():
    model = CountingModel()
    encoder = InstantEncoder(model)
    encoder.make_ready("is the highlander AWD")
    assert model.embedded == ["is the highlander AWD"]  # made before the clock starts
    vectors = encoder(["is the highlander AWD"])
    assert model.embedded == ["is the highlander AWD"]  # not embedded again
    np.testing.assert_array_equal(vectors, model(["is the highlander AWD"]))
    assert (encoder.served_ready, encoder.sent_to_model) == (1, 0)


def test_texts_not_made_ready_go_to_the_real_model_in_order():
    model = CountingModel()
    encoder = InstantEncoder(model)
    encoder.make_ready("b")
    vectors = encoder(["a", "b", "c"])
    assert model.embedded == ["b", "a", "c"]
    np.testing.assert_array_equal(vectors, CountingModel()(["a", "b", "c"]))
    assert (encoder.served_ready, encoder.sent_to_model) == (1, 2)
    encoder(["b"])  # used once: a second time goes to the model
    assert model.embedded[-1] == "b" and encoder.sent_to_model == 3


def test_an_embedder_over_it_runs_the_same_path_as_over_the_model():
    model = CountingModel()
    encoder = InstantEncoder(model)
    embedder = Embedder(encoder)
    encoder.make_ready("what's the price on T26101")
    assert embedder.encoder is encoder
    assert embedder.cached("what's the price on T26101") is None  # the query cache stays cold
    vector = embedder.embed_one("what's the price on T26101")
    assert vector == CountingModel()(["what's the price on T26101"])[0].tolist()
    assert encoder.served_ready == 1 and len(model.embedded) == 1
