"""Leads as data: the `Lead` model (what `POST /leads` accepts as JSON) and the ADF 1.0 XML parser.

ADF (Auto-lead Data Format, 2000) is what every third-party lead site emits, and each emits it a
little differently. The parser tolerates what real feeds do: no `<?adf?>` processing instruction,
upper-case or namespaced tags, a wrong encoding declaration, bare `&` and HTML entities such as
`&nbsp;` in comments, junk around the document, names as `part="first"/"last"` or one `part="full"`,
several phones with type attributes, trade-ins as `<vehicle interest="trade-in">`.

It tolerates nothing hostile: defusedxml refuses any DTD — so entity declarations (billion laughs,
XXE, parameter entities) and external DTDs — before anything is expanded or fetched, and a document
with a DTD is never "repaired".
"""

from __future__ import annotations

import datetime as dt
import html.entities
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

from dateutil import parser as dateparser
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_LEAD_BYTES = 1_000_000
MAX_PROSPECTS = 25  # each one may start a turn
SHORT = 500
LONG = 10_000
ConsentChannel = Literal["sms", "voice", "email"]


class LeadError(ValueError):
    """The body is not a lead we can read (malformed or hostile XML, no prospect)."""


# --- the lead -------------------------------------------------------------------------------
class LeadPhone(BaseModel):
    number: str = Field(max_length=40)
    type: str | None = Field(None, max_length=40)  # voice | cellphone | fax | pager ... (ADF); free text in JSON
    time: str | None = Field(None, max_length=40)  # morning | afternoon | evening | nopreference | day

    @property
    def is_fax(self) -> bool:
        return (self.type or "").lower() == "fax"


class LeadVehicle(BaseModel):
    interest: str | None = Field(None, max_length=40)  # buy | lease | sell | trade-in | test-drive
    status: str | None = Field(None, max_length=40)  # new | used
    year: int | None = Field(None, ge=1900, le=2100)
    make: str | None = Field(None, max_length=SHORT)
    model: str | None = Field(None, max_length=SHORT)
    trim: str | None = Field(None, max_length=SHORT)
    vin: str | None = Field(None, max_length=40)
    stock: str | None = Field(None, max_length=40)
    price: Decimal | None = None
    odometer: int | None = Field(None, ge=0)
    color: str | None = Field(None, max_length=SHORT)
    comments: str | None = Field(None, max_length=LONG)

    @field_validator("year", "odometer", mode="before")
    @classmethod
    def _int(cls, v: Any) -> Any:
        return _to_int(v) if isinstance(v, str) else v

    @field_validator("price", mode="before")
    @classmethod
    def _money(cls, v: Any) -> Any:
        return _to_decimal(v) if isinstance(v, str) else v

    @property
    def is_trade(self) -> bool:
        return (self.interest or "").lower().replace("_", "-") in {"trade-in", "tradein", "sell", "trade"}

    def title(self) -> str:
        return " ".join(str(p) for p in (self.year, self.make, self.model, self.trim) if p)


class LeadParty(BaseModel):
    """A `<vendor>` (the dealership the lead is for, as the site knows it) or `<provider>` (the site)."""

    name: str | None = Field(None, max_length=SHORT)
    contact: str | None = Field(None, max_length=SHORT)
    service: str | None = Field(None, max_length=SHORT)
    url: str | None = Field(None, max_length=2000)
    email: str | None = Field(None, max_length=SHORT)
    phone: str | None = Field(None, max_length=40)


class LeadAddress(BaseModel):
    street: str | None = Field(None, max_length=SHORT)
    city: str | None = Field(None, max_length=SHORT)
    state: str | None = Field(None, max_length=40)
    postal_code: str | None = Field(None, max_length=20)
    country: str | None = Field(None, max_length=40)


class LeadConsent(BaseModel):
    """Consent the customer gave on the lead form: the disclosure text they agreed to is the evidence."""

    text: str = Field(max_length=LONG)
    channels: list[ConsentChannel] = Field(default_factory=list)  # empty: every channel the lead has a contact for
    marketing: bool = False
    written: bool = False  # prior express written consent (signed disclosure)
    url: str | None = Field(None, max_length=2000)
    at: dt.datetime | None = None

    @property
    def explicit(self) -> bool:
        """Real disclosure text, not a bare checkbox value ("yes", "1", "true")."""
        t = self.text.strip()
        return len(t) >= 20 and t.lower() not in {"yes", "true", "1", "y", "on", "checked"}


class Lead(BaseModel):
    """One prospect, from ADF or JSON. JSON may use `phone`/`email`/`vehicle`/`name` singulars and
    give `provider`/`vendor` as plain names; unknown JSON fields are kept (model_extra)."""

    model_config = ConfigDict(extra="allow")

    first_name: str | None = Field(None, max_length=SHORT)
    last_name: str | None = Field(None, max_length=SHORT)
    full_name: str | None = Field(None, max_length=SHORT)
    phones: list[LeadPhone] = Field(default_factory=list, max_length=20)
    emails: list[str] = Field(default_factory=list, max_length=20)
    address: LeadAddress | None = None
    vehicles: list[LeadVehicle] = Field(default_factory=list, max_length=20)
    comments: str | None = Field(None, max_length=LONG)
    timeframe: str | None = Field(None, max_length=SHORT)
    vendor: LeadParty | None = None
    provider: LeadParty | None = None
    request_date: dt.datetime | None = None
    provider_lead_id: str | None = Field(None, max_length=200)
    consent: LeadConsent | None = None

    @model_validator(mode="before")
    @classmethod
    def _fold(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        d = dict(data)
        phones = list(d.get("phones") or [])
        if d.get("phone"):
            phones.insert(0, d.pop("phone"))
        d["phones"] = [{"number": p} if isinstance(p, str) else p for p in phones]
        emails = list(d.get("emails") or [])
        if d.get("email"):
            emails.insert(0, d.pop("email"))
        d["emails"] = emails
        vehicles = list(d.get("vehicles") or [])
        if d.get("vehicle"):
            vehicles.insert(0, d.pop("vehicle"))
        d["vehicles"] = vehicles
        if isinstance(d.get("name"), str) and not d.get("full_name"):
            d["full_name"] = d.pop("name")
        for party in ("provider", "vendor"):
            if isinstance(d.get(party), str):
                d[party] = {"name": d[party]}
        if isinstance(d.get("consent"), str):
            d["consent"] = {"text": d["consent"]}
        for alias in ("lead_id", "id"):
            if d.get(alias) and not d.get("provider_lead_id"):
                d["provider_lead_id"] = str(d.pop(alias))
        return d

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        return [e.strip().removeprefix("mailto:").strip() for e in v if isinstance(e, str) and e.strip()]

    @model_validator(mode="after")
    def _reachable(self) -> Lead:
        if not any(p.number.strip() for p in self.phones) and not self.emails:
            raise ValueError("a lead needs a phone number or an email address")
        return self

    @property
    def name(self) -> str | None:
        if self.full_name and self.full_name.strip():
            return " ".join(self.full_name.split())
        joined = " ".join(p.strip() for p in (self.first_name, self.last_name) if p and p.strip())
        return joined or None

    @property
    def wanted(self) -> list[LeadVehicle]:
        return [v for v in self.vehicles if not v.is_trade]

    @property
    def trade_ins(self) -> list[LeadVehicle]:
        return [v for v in self.vehicles if v.is_trade]

    @property
    def provider_name(self) -> str | None:
        return (self.provider.name if self.provider else None) or None

    @property
    def vendor_name(self) -> str | None:
        return (self.vendor.name if self.vendor else None) or None


def _to_int(v: str) -> int | None:
    digits = re.sub(r"[^\d]", "", v.split(".")[0])
    return int(digits) if digits else None


def _to_decimal(v: str) -> Decimal | None:
    cleaned = re.sub(r"[^\d.]", "", v)
    try:
        return Decimal(cleaned) if cleaned else None
    except InvalidOperation:
        return None


# --- ADF XML --------------------------------------------------------------------------------
def parse_adf(raw: bytes) -> list[Lead]:
    """Every `<prospect>` in an ADF document. Raises LeadError (unreadable) or pydantic's
    ValidationError (readable but not a usable lead, e.g. no phone or email)."""
    root = _parse_xml(raw)
    prospects = [e for e in root.iter() if _tag(e) == "prospect"]
    if not prospects:
        raise LeadError("no <prospect> element: this is not an ADF lead")
    if len(prospects) > MAX_PROSPECTS:
        raise LeadError(f"{len(prospects)} prospects in one document; send at most {MAX_PROSPECTS} per request")
    return [Lead.model_validate(_prospect(p)) for p in prospects]


def _parse_xml(raw: bytes) -> Element:
    if not raw.strip():
        raise LeadError("empty body: expected an ADF XML document")
    try:
        return _safe_fromstring(raw)
    except ParseError as first:
        repaired = _repair(raw)
        if repaired is None:
            raise LeadError(f"malformed XML: {first}") from None
        try:
            return _safe_fromstring(repaired)
        except ParseError:
            raise LeadError(f"malformed XML: {first}") from None


def _safe_fromstring(raw: bytes) -> Element:
    try:
        return SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:  # the attacker's DTD is not echoed back
        raise LeadError("DTDs, entity declarations and external references are not accepted in a lead") from None


_HOSTILE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL = re.compile(r"<\?xml[^>]*\?>", re.IGNORECASE)
_BARE_AMP = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_NAMED = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_NAMED = {"amp", "lt", "gt", "quot", "apos"}


def _repair(raw: bytes) -> bytes | None:
    """Fix what lead feeds commonly get wrong; None when there is nothing we are willing to fix.
    Documents with a DTD are never touched: they fail (safely) as they are."""
    if _HOSTILE.search(raw):
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # the declared encoding lied; most such feeds are Windows-1252
    text = _XML_DECL.sub("", text)
    start = text.find("<")
    if start < 0:
        return None
    text = text[start:]
    end = max(text.lower().rfind("</adf>"), -1)
    if end >= 0:
        text = text[: end + len("</adf>")]

    def named(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _XML_NAMED:
            return m.group(0)
        code = html.entities.name2codepoint.get(name)
        return f"&#{code};" if code else f"&amp;{name};"

    text = _NAMED.sub(named, text)
    text = _BARE_AMP.sub("&amp;", text)
    return text.encode("utf-8")


def _tag(e: Element) -> str:
    tag = e.tag if isinstance(e.tag, str) else ""
    return tag.rsplit("}", 1)[-1].lower()


def _attrs(e: Element) -> dict[str, str]:
    return {k.rsplit("}", 1)[-1].lower(): (v or "").strip() for k, v in e.attrib.items()}


def _text(e: Element | None, *, multiline: bool = False) -> str | None:
    if e is None:
        return None
    raw = "".join(e.itertext())
    if multiline:
        lines = [" ".join(line.split()) for line in raw.strip().splitlines()]
        out = "\n".join(line for line in lines if line)
    else:
        out = " ".join(raw.split())
    return out or None


def _children(e: Element | None, name: str) -> list[Element]:
    return [c for c in e if _tag(c) == name] if e is not None else []


def _child(e: Element | None, *names: str) -> Element | None:
    for name in names:
        found = _children(e, name)
        if found:
            return found[0]
    return None


def _either(a: Element | None, b: Element | None) -> Element | None:
    """`a or b` for elements (an Element without children is falsy)."""
    return a if a is not None else b


def _find(e: Element | None, name: str) -> Element | None:
    """First descendant with this tag (any depth, any namespace/case)."""
    if e is None:
        return None
    return next((d for d in e.iter() if d is not e and _tag(d) == name), None)


def _names(contact: Element | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for n in _children(contact, "name"):
        part = _attrs(n).get("part", "full").lower() or "full"
        value = _text(n)
        if value and part not in out:
            out[part] = value
    return out


def _party(e: Element | None, *, name_tags: tuple[str, ...]) -> dict[str, Any] | None:
    if e is None:
        return None
    contact = _child(e, "contact")
    contact_names = _names(contact)
    name = next((_text(_child(e, t)) for t in name_tags if _child(e, t) is not None), None)
    if name is None:
        own = _names(e)
        name = own.get("full") or " ".join(v for k, v in own.items() if k in ("first", "last")) or None
    contact_name = contact_names.get("full") or " ".join(v for k, v in contact_names.items() if k in ("first", "last"))
    return {
        "name": name,
        "contact": contact_name or None,
        "service": _text(_child(e, "service")),
        "url": _text(_child(e, "url")),
        "email": _text(_either(_child(e, "email"), _child(contact, "email"))),
        "phone": _text(_either(_child(e, "phone"), _child(contact, "phone"))),
    }


def _vehicle(v: Element) -> dict[str, Any]:
    a = _attrs(v)
    price_el = _child(v, "price")
    color = _child(v, "colorcombination")
    return {
        "interest": a.get("interest") or None,
        "status": a.get("status") or None,
        "year": _text(_child(v, "year")),
        "make": _text(_child(v, "make")),
        "model": _text(_child(v, "model")),
        "trim": _text(_child(v, "trim")),
        "vin": (_text(_child(v, "vin")) or "").upper() or None,
        "stock": _text(_child(v, "stock", "stocknumber", "stock_number")),
        "price": _text(price_el),
        "odometer": _text(_child(v, "odometer")),
        "color": _text(_child(color, "exteriorcolor")) if color is not None else _text(_child(v, "exteriorcolor")),
        "comments": _text(_child(v, "comments"), multiline=True),
    }


def _consent(p: Element) -> dict[str, Any] | None:
    """Consent disclosures are not in ADF 1.0; providers add `<consent>` / `<tcpa>` elements. Only
    their text counts as evidence; attributes may name channels and whether it covers marketing."""
    for e in p.iter():
        if _tag(e) not in {"consent", "tcpa", "tcpaconsent", "tcpa_consent", "optin", "opt_in"}:
            continue
        a = _attrs(e)
        text = _text(e, multiline=True) or a.get("text")
        if not text:
            continue
        raw_channels = re.split(r"[,\s;|]+", (a.get("channels") or a.get("channel") or a.get("type") or "").lower())
        channels = [c for c in ({"text": "sms", "call": "voice", "phone": "voice"}.get(c, c) for c in raw_channels)]
        return {
            "text": text,
            "channels": [c for c in dict.fromkeys(channels) if c in ("sms", "voice", "email")],
            "marketing": a.get("marketing", "").lower() in {"1", "yes", "true", "y"},
            "written": a.get("written", "").lower() in {"1", "yes", "true", "y"},
            "url": a.get("url") or None,
        }
    return None


def _prospect(p: Element) -> dict[str, Any]:
    customer = _either(_child(p, "customer"), _find(p, "customer"))
    contact = _either(_either(_child(customer, "contact"), _find(customer, "contact")), customer)
    names = _names(contact)
    phones = []
    for ph in contact.iter() if contact is not None else []:
        if _tag(ph) == "phone" and _text(ph):
            a = _attrs(ph)
            phones.append({"number": _text(ph), "type": a.get("type") or None, "time": a.get("time") or None})
    emails = [t for e in (contact.iter() if contact is not None else []) if _tag(e) == "email" and (t := _text(e))]
    address = _child(contact, "address")
    vehicles = _children(p, "vehicle") or [v for v in p.iter() if _tag(v) == "vehicle"]
    ids = _children(p, "id")
    request_date = _text(_child(p, "requestdate"))
    timeframe = _child(customer, "timeframe")
    comments = [_text(c, multiline=True) for c in (*_children(customer, "comments"), *_children(p, "comments"))]
    return {
        "first_name": names.get("first"),
        "last_name": names.get("last"),
        "full_name": names.get("full"),
        "phones": phones,
        "emails": emails,
        "address": (
            {
                "street": " ".join(t for s in _children(address, "street") if (t := _text(s))) or None,
                "city": _text(_child(address, "city")),
                "state": _text(_child(address, "regioncode", "state")),
                "postal_code": _text(_child(address, "postalcode", "zip")),
                "country": _text(_child(address, "country")),
            }
            if address is not None
            else None
        ),
        "vehicles": [_vehicle(v) for v in vehicles],
        "comments": "\n".join(c for c in comments if c) or None,
        "timeframe": _text(_child(timeframe, "description")) or _text(timeframe) if timeframe is not None else None,
        "vendor": _party(_either(_child(p, "vendor"), _find(p, "vendor")), name_tags=("vendorname",)),
        "provider": _party(_either(_child(p, "provider"), _find(p, "provider")), name_tags=()),
        "request_date": _parse_date(request_date),
        "provider_lead_id": _text(ids[0]) if ids else None,
        "id_source": _attrs(ids[0]).get("source") if ids else None,
        "consent": _consent(p),
    }


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dateparser.parse(value)
    except (ValueError, OverflowError):
        return None


__all__ = ["MAX_LEAD_BYTES", "Lead", "LeadConsent", "LeadError", "LeadParty", "LeadVehicle", "parse_adf"]
