"""Inventory: searches from the customer's words, follow-ups about "the silver one", refinements.

Every vehicle and price in a reply comes from `search_inventory` / `vehicle_details` in this turn
(they record what they return in `deps.facts`); the dialogue only remembers which units were shown
so a later "the 2nd one" can be looked up again.
"""

from __future__ import annotations

import re
from typing import Any

from agent.offline.state import Turn, snapshot
from tools.context import ToolError
from tools.inventory import (
    color_matches,
    drivetrain_matches,
    feature_matches,
    search_inventory,
    trim_matches,
    vehicle_details,
)

SEARCH_KEYS = (
    "condition", "year_min", "year_max", "make", "model", "trim", "body_style", "color", "price_min",
    "price_max", "mileage_max", "drivetrain", "fuel_type", "seats_min", "features",
)  # fmt: skip
SHOWN = {"chat": 4, "sms": 3, "voice": 2}
_BODY_WORDS = {"pickup": "trucks", "suv": "SUVs", "sedan": "sedans", "minivan": "minivans", "coupe": "coupes",
               "hatchback": "hatchbacks", "wagon": "wagons", "convertible": "convertibles", "van": "vans"}  # fmt: skip
_CONDITION = {"new": "new", "used": "used", "cpo": "certified pre-owned"}


def describe(crit: dict[str, Any], budget: dict[str, Any] | None = None) -> str:
    """The search in the customer's terms: "used Tacomas", "blue RAV4 Hybrids", "SUVs with a third row"."""
    words: list[str] = []
    if crit.get("condition"):
        words.append(_CONDITION.get(crit["condition"], crit["condition"]))
    if crit.get("year_min") and crit.get("year_min") == crit.get("year_max"):
        words.append(str(crit["year_min"]))
    if crit.get("color"):
        words.append(str(crit["color"]).lower())
    fuel = crit.get("fuel_type")
    if fuel and not (crit.get("model") and fuel.split()[-1] in crit["model"].lower()):
        words.append(fuel)
    if crit.get("model"):
        noun = crit["model"] + (f" {crit['trim']}" if crit.get("trim") else "")
        words.append(noun + "s")
    elif crit.get("make"):
        words.append(f"{crit['make']} " + _BODY_WORDS.get(crit.get("body_style") or "", "models"))
    else:
        words.append(_BODY_WORDS.get(crit.get("body_style") or "", "vehicles"))
    tail: list[str] = []
    if crit.get("seats_min"):
        tail.append("with a third row" if crit["seats_min"] >= 7 else f"that seat {crit['seats_min']}")
    if crit.get("drivetrain"):
        tail.append(f"with {crit['drivetrain']}")
    if crit.get("features"):
        tail.append("with " + " and ".join(crit["features"]))
    if crit.get("year_min") and crit.get("year_min") != crit.get("year_max"):
        tail.append(f"from {crit['year_min']} or newer")
    elif crit.get("year_max") and not crit.get("year_min"):
        tail.append(f"from {crit['year_max']} or older")
    if crit.get("mileage_max"):
        tail.append("with low miles")
    if crit.get("price_max") or crit.get("price_min"):
        stated = budget or {}
        said = crit.get("price_max") == stated.get("max") or crit.get("price_min") == stated.get("min")
        tail.append("in your budget" if said else "at a lower price")
    return " ".join(words + tail)


def line(t: Turn, v: Any, n: int | None = None) -> str:
    """One vehicle as a list line (chat/SMS) or a spoken phrase (voice)."""
    price = t.out.money(v.price) if v.price is not None else "call for price"
    flag = {"pending": " (sale pending)", "in_transit": " (arriving soon)"}.get(v.status, "")
    if t.channel == "voice":
        miles = "new" if v.condition == "new" else f"with {v.mileage:,} miles" if v.mileage is not None else ""
        color = f" in {v.exterior_color}" if v.exterior_color else ""
        return f"a {v.title()}{color}, {miles}, for {price}{flag}".replace(", ,", ",")
    miles = f"{v.mileage:,} mi" if v.mileage is not None else "miles n/a"
    if t.channel == "sms":
        color = short_color(v.exterior_color)
        return f"{n}) {v.title()} {price}, {miles}{', ' + color if color else ''}{flag}"
    parts = [price, miles]
    if v.exterior_color:
        parts.append(v.exterior_color)
    if v.stock_number:
        parts.append(f"stock #{v.stock_number}")
    return f"{n}. {v.title()} — " + ", ".join(parts) + flag


_PAINT_WORDS = {"metallic", "pearl", "clearcoat", "tricoat", "tintcoat", "mica", "premium", "paint"}


def short_color(color: str | None) -> str:
    """ "Celestial Silver Metallic" -> "Celestial Silver" (SMS has no room for paint finishes)."""
    return " ".join(w for w in (color or "").split() if w.lower() not in _PAINT_WORDS)


def listing(t: Turn, vehicles: list[Any]) -> str:
    if t.channel == "voice":
        phrases = [line(t, v) for v in vehicles]
        return phrases[0] if len(phrases) == 1 else ", and ".join([", ".join(phrases[:-1]), phrases[-1]])
    sep = "; " if t.channel == "sms" else "\n"
    return sep.join(line(t, v, i + 1) for i, v in enumerate(vehicles))


def lead(t: Turn, intro: str, body: str) -> None:
    """An intro and the list it introduces; spoken as one sentence on voice."""
    if t.channel == "voice":
        t.out.add(f"{intro.rstrip(':')} {body}".rstrip(".") + ".", 0)
    else:
        t.out.add(intro, 0)
        t.out.add(body, 0)


def _relaxed_phrase(relaxed: list[str]) -> str:
    """The tool's reasons, in the customer's words (never re-stating their budget figure)."""
    said: list[str] = []
    for reason in relaxed:
        what = reason.split(":", 1)[0].strip()
        phrase = {
            "price": "a bit over your budget" if "15%" in reason else "above your budget",
            "mileage": "with a few more miles",
            "color": "in other colors",
            "trim": "in other trims",
            "features": "without every feature you listed",
            "model": "similar models",
            "make": "from other makes",
        }.get(what, "with a few of your wishes relaxed")
        if phrase not in said:
            said.append(phrase)
    return ", ".join(said)


def _clean(crit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in crit.items() if k in SEARCH_KEYS and v not in (None, [], "")}


async def search(t: Turn, crit: dict[str, Any], sort: str | None, text: str | None = None) -> Any | None:
    try:
        return await search_inventory(
            t.deps,
            **_clean(crit),
            text=text,
            sort=sort or "relevance",  # type: ignore[arg-type]  # one of tools.inventory.Sort
            limit=SHOWN.get(t.channel, 3),
        )
    except ToolError:
        return None


async def run_search(
    t: Turn,
    crit: dict[str, Any],
    sort: str | None,
    *,
    intro: str = "",
    text: str | None = None,
    remember: dict[str, Any] | None = None,
    result: Any | None = None,
) -> None:
    """Search, remember what was shown, and say it honestly (matches, or the closest alternatives).

    `remember` is what a later refinement builds on (without a one-off bound like "cheaper than these").
    """
    crit = _clean(crit)
    if result is None:
        result = await search(t, crit, sort, text)
    if result is None:
        t.out.say("inventory_unavailable", 0)
        return
    t.dialogue["criteria"], t.dialogue["sort"] = _clean(remember if remember is not None else crit), sort
    shown = result.matches or result.alternatives
    t.dialogue["results"] = [snapshot(v) for v in shown]
    desc = describe(crit, t.dialogue.get("budget"))
    if result.matches:
        total = result.total_matches
        key = "search_found_one" if total == 1 else "search_found_more" if total > len(shown) else "search_found"
        key = intro or key
        lead(t, t.out.t(key, count=total, shown=len(shown), desc=desc), listing(t, shown))
        if len(shown) == 1:
            t.focus(shown[0])
        t.out.say("search_next", 1)
    elif result.alternatives:
        lead(t, t.out.t("search_none_alternatives", desc=desc, why=_relaxed_phrase(result.relaxed)), listing(t, shown))
        t.out.say("search_next", 1)
    else:
        t.out.say("search_nothing", 0, desc=desc)
        t.set_pending("offer_notify", desc=desc)
        t.out.offer("Yes, let me know", "Show me something else")
        return
    for v in shown:
        t.show_card(v)
    t.out.offer("Book a test drive", "Tell me about #1", "Anything cheaper?")


async def handle_search(t: Turn) -> None:
    e = t.ents
    crit = dict(e.criteria)
    prior = t.dialogue.get("criteria") or {}
    # Only attributes ("in blue?", "under 30k?") refine the last search; a new kind of vehicle starts over.
    if prior and not {"make", "model", "body_style", "seats_min", "fuel_type"} & set(crit):
        crit = {**prior, **crit}
    sort = e.sort
    if e.superlative == "cheapest" or sort == "price_asc":
        sort = "price_asc"
    await run_search(t, crit, sort, text=e.text_hint)


async def handle_refine(t: Turn) -> None:
    e = t.ents
    prior = dict(t.dialogue.get("criteria") or {})
    new = dict(e.criteria)
    if {"model", "make", "body_style"} & set(new):
        for k in ("model", "make", "body_style", "trim", "color"):
            prior.pop(k, None)
    crit = {**prior, **new}
    shown = t.dialogue.get("results") or []
    anchor = t.dialogue.get("focus") or {}
    sort = e.sort
    s = t.parse.norm
    if anchor and re.search(r"\bsimilar\b|\blike (?:this|that) one\b", s):
        like = {"model": anchor["model"]} if anchor.get("model") else {"body_style": anchor.get("body")}
        result = await search(t, like, "relevance")
        if result is not None:
            result.matches = [v for v in result.matches if v.vin != anchor["vin"]]
            result.total_matches = len(result.matches)
        await run_search(t, like, None, intro="search_refined", result=result)
        return
    if re.search(r"\bcheaper|less expensive|lower pric", s):
        prices = [anchor["price"]] if anchor.get("price") else [r["price"] for r in shown if r.get("price")]
        if prices:
            crit["price_max"] = min(prices) - 1
        sort = "price_asc"
    elif re.search(r"\bnewer\b", s):
        years = [r["year"] for r in shown if r.get("year")] + ([anchor["year"]] if anchor.get("year") else [])
        if years:
            crit["year_min"] = max(years) + 1 if not anchor else anchor["year"] + 1
        sort = "newest"
    elif re.search(r"\b(?:fewer|less|lower) miles|lower mileage", s):
        mls = [r["miles"] for r in shown if r.get("miles") is not None]
        if mls:
            crit["mileage_max"] = max(min(mls) - 1, 0)
        sort = "miles_asc"
    if not crit:
        t.out.say("search_ask", 0)
        return
    remember = {k: v for k, v in crit.items() if k not in {"price_max", "year_min", "mileage_max"}}
    remember.update({k: prior[k] for k in ("price_max", "year_min", "mileage_max") if k in prior})
    remember.update({k: new[k] for k in ("price_max", "year_min", "mileage_max") if k in new})
    if sort == "price_asc" and "price_max" in crit and "price_max" not in new:
        result = await search(t, crit, sort, e.text_hint)
        if result is not None and not result.matches and ({"color", "trim"} & set(crit)):
            looser = {k: v for k, v in crit.items() if k not in {"color", "trim"}}
            retry = await search(t, looser, sort, e.text_hint)
            if retry is not None and retry.matches:
                await run_search(t, looser, sort, intro="search_cheaper_other_colors", remember=remember, result=retry)
                return
        if result is not None and not result.matches:
            t.out.say("search_cheapest_already", 0)
            t.out.say("search_next", 1)
            return
        await run_search(t, crit, sort, intro="search_refined", remember=remember, result=result)
        return
    await run_search(t, crit, sort, intro="search_refined", text=e.text_hint, remember=remember)


# --- references to what was shown --------------------------------------------------------------


def _shown(t: Turn) -> list[dict[str, Any]]:
    return list(t.dialogue.get("results") or [])


def looks_like_reference(t: Turn) -> bool:
    """ "the silver one", "the 2nd", "the cheaper one", "the XLE" — about the list just shown."""
    if not _shown(t):
        return False
    e = t.ents
    if e.ordinal is not None:
        return True
    if e.superlative:
        return bool(resolve(t, _shown(t)))
    crit = set(e.criteria) - {"make"}
    s = t.parse.norm
    small = len(s.split()) <= 6
    if crit and crit <= {"color", "trim", "year_min", "year_max", "model"} and (re.search(r"\bones?\b", s) or small):
        return bool(resolve(t, _shown(t)))
    return False


def resolve(t: Turn, pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shown vehicles the customer's words point at (ordinal, color, trim, year, model, superlative)."""
    e = t.ents
    if not pool:
        return []
    if e.ordinal is not None:
        i = len(pool) - 1 if e.ordinal == -1 else e.ordinal - 1
        return [pool[i]] if 0 <= i < len(pool) else []
    cands = pool
    crit = e.criteria
    if crit.get("color"):
        cands = [c for c in cands if color_matches(crit["color"], c.get("color"))]
    if crit.get("trim"):
        cands = [c for c in cands if trim_matches(crit["trim"], c.get("trim"))]
    if crit.get("year_min") and crit.get("year_min") == crit.get("year_max"):
        cands = [c for c in cands if c.get("year") == crit["year_min"]]
    if crit.get("model"):
        want = re.sub(r"[^a-z0-9]", "", crit["model"].lower())
        cands = [c for c in cands if re.sub(r"[^a-z0-9]", "", (c.get("model") or "").lower()).startswith(want)]
    if e.superlative and cands:
        key = {
            "cheapest": lambda c: c.get("price") or 10**9,
            "priciest": lambda c: -(c.get("price") or 0),
            "newest": lambda c: -(c.get("year") or 0),
            "lowest_miles": lambda c: c.get("miles") if c.get("miles") is not None else 10**9,
        }[e.superlative]
        cands = [min(cands, key=key)]
    return cands


async def load_vehicle(t: Turn, snap: dict[str, Any]) -> Any | None:
    """Fresh details of a unit (records its facts); says so honestly when it has sold."""
    try:
        return await vehicle_details(t.deps, snap["vin"])
    except ToolError:
        t.out.say("vehicle_gone", 0, title=snap.get("title", "That vehicle"))
        t.dialogue.pop("focus", None)
        return None


async def handle_select(t: Turn) -> None:
    cands = resolve(t, _shown(t))
    if not cands:
        t.out.say("select_none", 0)
        t.out.add(listing(t, await _reload(t)), 0)
        return
    if len(cands) > 1:
        vehicles = [v for v in [await load_vehicle(t, c) for c in cands[: SHOWN.get(t.channel, 3)]] if v]
        t.dialogue["results"] = [snapshot(v) for v in vehicles]
        t.out.say("select_which", 0, count=len(vehicles))
        t.out.add(listing(t, vehicles), 0)
        return
    v = await load_vehicle(t, cands[0])
    if v is None:
        return
    t.focus(v)
    t.show_card(v)
    answer_attrs(t, v, t.ents.asked_attrs or ["summary"])
    _next_step(t)


async def _reload(t: Turn) -> list[Any]:
    out = []
    for snap in _shown(t):
        try:
            out.append(await vehicle_details(t.deps, snap["vin"]))
        except ToolError:
            continue
    return out


async def target_vehicle(t: Turn) -> Any | None:
    """The unit a follow-up question is about: a reference, the focus, the only one shown, or the last interest."""
    e = t.ents
    if e.stock or e.vin:
        return await load_vehicle(t, {"vin": e.vin or e.stock, "title": "That vehicle"})
    pool = _shown(t)
    if pool and (e.ordinal is not None or e.superlative or {"color", "trim", "model"} & set(e.criteria)):
        cands = resolve(t, pool)
        if len(cands) == 1:
            return await load_vehicle(t, cands[0])
    focus = t.dialogue.get("focus")
    if focus:
        return await load_vehicle(t, focus)
    if len(pool) == 1:
        return await load_vehicle(t, pool[0])
    if pool:
        t.out.say("which_vehicle", 0)
        t.out.add(listing(t, await _reload(t)), 0)
        return None
    for interest in reversed(t.inp.customer.interests):
        if interest.vin:
            return await load_vehicle(t, {"vin": interest.vin, "title": interest.description})
    if e.stock or e.vin:
        return await load_vehicle(t, {"vin": e.vin or e.stock, "title": "That vehicle"})
    return None


async def handle_vehicle_question(t: Turn) -> None:
    v = await target_vehicle(t)
    if v is None:
        if not t.out.parts:
            if t.ents.criteria.get("model"):
                await run_search(t, t.ents.criteria, t.ents.sort)
            else:
                t.out.say("which_vehicle_none", 0)
        return
    t.focus(v)
    t.show_card(v)
    attrs = t.ents.asked_attrs or (["features"] if t.ents.criteria.get("features") else ["summary"])
    answer_attrs(t, v, attrs)
    if "history" in attrs:
        await _history(t)
    _next_step(t)


def answer_attrs(t: Turn, v: Any, attrs: list[str]) -> None:
    """Answer each thing asked about one unit from its record."""
    o = t.out
    title = v.title()
    for a in attrs:
        if a == "miles":
            if v.condition == "new":
                o.say("attr_miles_new", 0, title=title, miles=f"{v.mileage or 0:,}")
            else:
                o.say("attr_miles", 0, title=title, miles=f"{v.mileage:,}" if v.mileage is not None else "unlisted")
        elif a == "color":
            inside = f" with a {v.interior_color} interior" if v.interior_color else ""
            o.say("attr_color", 0, title=title, color=v.exterior_color or "not listed", interior=inside)
        elif a == "interior":
            o.say("attr_interior", 0, title=title, interior=v.interior_color or "not listed")
        elif a == "price":
            msrp = f" (MSRP {o.money(v.msrp)})" if v.msrp and v.condition == "new" and v.msrp != v.price else ""
            o.say("attr_price", 0, title=title, price=o.money(v.price), msrp=msrp)
        elif a == "availability":
            key = {"available": "attr_available", "pending": "attr_pending", "in_transit": "attr_in_transit"}
            o.say(key.get(v.status, "attr_pending"), 0, title=title)
        elif a == "features":
            wanted = t.ents.criteria.get("features") or []
            if not wanted and set(attrs) - {"features", "summary"}:
                continue  # "does it have awd?" asks about the drivetrain, not for a feature list
            if wanted:
                for f in wanted:
                    o.say(
                        "attr_feature_yes" if feature_matches(f, v) else "attr_feature_no",
                        0,
                        title=title,
                        feature=_feature_label(f),
                    )
            else:
                o.say("attr_features", 0, title=title, features=", ".join(v.features[:6]) or "not listed")
        elif a == "engine":
            trans = f", {v.transmission} transmission" if v.transmission else ""
            o.say("attr_engine", 0, title=title, engine=v.engine or "not listed", trans=trans)
        elif a == "drivetrain":
            asked = t.ents.criteria.get("drivetrain")
            if asked and v.drivetrain:  # "does it have awd?": yes, or what it has instead
                said = "attr_drivetrain_yes" if drivetrain_matches(asked, v.drivetrain) else "attr_drivetrain_no"
                o.say(said, 0, title=title, drivetrain=v.drivetrain, asked=asked)
            else:
                o.say("attr_drivetrain", 0, title=title, drivetrain=v.drivetrain or "not listed")
        elif a == "mpg":
            o.say("attr_mpg", 0, title=title, fuel=(v.fuel_type or "gas").lower(), engine=v.engine or "")
        elif a == "fuel":
            o.say("attr_fuel", 0, title=title, fuel=v.fuel_type or "not listed")
        elif a == "seats":
            o.say("attr_seats", 0, title=title, seats=v.seats or "not listed")
        elif a in {"trim", "year"}:
            o.say(
                "attr_summary",
                0,
                title=title,
                price=o.money(v.price),
                miles=_miles(t, v),
                color=f", {v.exterior_color}" if v.exterior_color else "",
            )
        elif a == "photos":
            if t.channel == "voice" or not v.vdp_url:
                o.say("attr_photos_voice", 0, title=title)
            else:
                o.say("attr_photos", 0, title=title, url=v.vdp_url)
        elif a == "summary":
            o.say(
                "attr_summary",
                0,
                title=title,
                price=o.money(v.price),
                miles=_miles(t, v),
                color=f", {v.exterior_color}" if v.exterior_color else "",
            )
            if v.status != "available":
                flag = {"pending": "attr_pending", "in_transit": "attr_in_transit"}.get(v.status, "attr_pending")
                o.say(flag, 0, title=title)


def _miles(t: Turn, v: Any) -> str:
    if v.mileage is None:
        return "mileage not listed"
    return f"{v.mileage:,} miles"


def _feature_label(f: str) -> str:
    return {"apple carplay": "Apple CarPlay", "android auto": "Android Auto"}.get(f, f)


async def _history(t: Turn) -> None:
    from agent.offline.info_flow import knowledge_quote

    quote = await knowledge_quote(t, "used vehicle history report inspection", ["history", "report", "inspection"])
    if quote:
        t.out.add(quote, 1)


def _next_step(t: Turn) -> None:
    if not t.pending:
        t.out.say("vehicle_next", 1)
        t.out.offer("Book a test drive", "Is it available?", "Similar ones")
