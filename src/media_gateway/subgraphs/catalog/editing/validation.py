"""What an editor may write into the catalog: every value checked, every mistake reported with
the field it belongs to (all of them at once, so a form can mark each).

Content ratings are checked against the one rating scale (``platform.ratings``), regions
against ISO 3166-1 (``platform.regions``), deep links must be absolute ``https`` or app links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from media_gateway.platform import ratings
from media_gateway.platform.regions import normalize_region
from media_gateway.storage.types import utcnow

KINDS = ("movie", "series", "season", "episode")
PARENT_KIND = {"season": "series", "episode": "season"}  # what a season or episode belongs to
OFFER_TYPES = ("subscription", "free", "rent", "buy")
PAID_OFFER_TYPES = ("rent", "buy")
QUALITIES = ("SD", "HD", "UHD")
ROLES = ("cast", "crew")
FIRST_YEAR = 1870  # the oldest surviving motion pictures
YEARS_AHEAD = 10  # announced titles
MAX_RUNTIME = 1500  # minutes
MAX_SYNOPSIS = 10_000
MAX_PRICE = Decimal("10000")
# schemes a deep link may not use: they run code or read local files instead of opening an app
UNSAFE_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_IMDB = re.compile(r"^tt\d{7,10}$")
_TMDB = re.compile(r"^\d{1,10}$")
_EIDR = re.compile(r"^10\.5240/[0-9A-F]{4}(-[0-9A-F]{4}){4}-[0-9A-Z]$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class FieldError:
    field: str  # the input field, as the client named it (e.g. "offers[1].region")
    message: str


class EditError(Exception):
    """The change is invalid: one error per field at fault."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class EditConflict(Exception):
    """The entity changed since the version the editor started from."""

    def __init__(self, message: str, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(message)


class EditNotFound(Exception):
    pass


class Checker:
    """Collects field errors; ``done()`` raises them together."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def done(self) -> None:
        if self.errors:
            raise EditError(self.errors)

    def text(
        self, field: str, value: Any, *, max_length: int, required: bool = False
    ) -> str | None:
        if value is None:
            if required:
                self.fail(field, "is required.")
            return None
        text = str(value).strip()
        if not text:
            if required:
                self.fail(field, "must not be blank.")
            return None
        if len(text) > max_length:
            self.fail(field, f"must be at most {max_length} characters.")
        return text

    def year(self, field: str, value: int | None) -> int | None:
        if value is None:
            return None
        last = utcnow().year + YEARS_AHEAD
        if not FIRST_YEAR <= value <= last:
            self.fail(field, f"must be a year from {FIRST_YEAR} to {last}.")
        return value

    def runtime(self, field: str, value: int | None) -> int | None:
        if value is None:
            return None
        if not 1 <= value <= MAX_RUNTIME:
            self.fail(field, f"must be 1 to {MAX_RUNTIME} minutes.")
        return value

    def rating(self, field: str, value: str | None) -> str | None:
        if value is None or not str(value).strip():
            return None
        known = ratings.normalize(value)
        if known is None:
            scale = ", ".join(ratings.known_ratings())
            self.fail(field, f"{value!r} is not a content rating; use one of {scale}.")
        return known

    def number(self, field: str, value: int | None, *, low: int, required: bool) -> int | None:
        if value is None:
            if required:
                self.fail(field, "is required.")
            return None
        if value < low:
            self.fail(field, f"must be {low} or more.")
        return value

    def pattern(self, field: str, value: str | None, regex: re.Pattern[str], example: str) -> Any:
        if value is None or not value.strip():
            return None
        text = value.strip()
        if not regex.match(text):
            self.fail(field, f"is not well formed (e.g. {example}).")
        return text

    def region(self, field: str, value: str) -> str:
        known = normalize_region(value)
        if known is None:
            self.fail(field, f"{value!r} is not an ISO 3166-1 alpha-2 region code (e.g. US, GB).")
            return value
        return known

    def deep_link(self, field: str, value: str) -> str:
        text = value.strip()
        if not text:
            self.fail(field, "is required.")
            return text
        if len(text) > 500:
            self.fail(field, "must be at most 500 characters.")
        if any(c.isspace() for c in text):
            self.fail(field, "must not contain spaces.")
            return text
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if not scheme or not _SCHEME.match(scheme) or "://" not in text:
            self.fail(field, "must be an absolute link (https://… or an app link such as app://…).")
        elif scheme in UNSAFE_SCHEMES:
            self.fail(field, f"may not use the {scheme}: scheme.")
        elif scheme == "http":
            self.fail(field, "must use https.")
        elif scheme == "https" and not parts.hostname:
            self.fail(field, "must name a host.")
        return text

    def future(self, field: str, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        if moment <= utcnow():
            self.fail(field, "must be in the future.")
        return moment.astimezone(UTC)

    def choice(self, field: str, value: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.fail(field, f"must be one of {', '.join(allowed)}.")
        return value


def check_offers(offers: list[dict[str, Any]], field: str = "offers") -> list[dict[str, Any]]:
    """Offers as an editor states them, checked and in stored form (see ``snapshots``)."""
    check = Checker()
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for index, offer in enumerate(offers):
        at = f"{field}[{index}]"
        platform = check.text(f"{at}.platform", offer.get("platform"), max_length=40, required=True)
        region = check.region(f"{at}.region", str(offer.get("region") or ""))
        offer_type = check.choice(f"{at}.offerType", str(offer.get("offer_type")), OFFER_TYPES)
        quality = check.choice(
            f"{at}.quality", str(offer.get("quality") or "HD").upper(), QUALITIES
        )
        deep_link = check.deep_link(f"{at}.deepLink", str(offer.get("deep_link") or ""))
        leaves_at = check.future(f"{at}.leavesAt", offer.get("leaves_at"))
        price, currency = _price(check, at, offer, offer_type)
        key = (platform or "", region, offer_type)
        if key in seen:
            check.fail(at, f"repeats the {offer_type} offer of {platform} in {region}.")
        seen.add(key)
        result.append(
            {
                "platform": platform,
                "region": region,
                "offer_type": offer_type,
                "price": price,
                "currency": currency,
                "quality": quality,
                "deep_link": deep_link,
                "leaves_at": leaves_at.isoformat() if leaves_at else None,
                "is_demo_data": False,
                "source": "editor",
            }
        )
    check.done()
    return result


def _price(
    check: Checker, at: str, offer: dict[str, Any], offer_type: str
) -> tuple[str | None, str | None]:
    raw, currency = offer.get("price"), offer.get("currency")
    if offer_type not in PAID_OFFER_TYPES:
        if raw is not None or currency is not None:
            check.fail(f"{at}.price", f"a {offer_type} offer has no price.")
        return None, None
    code = str(currency or "").strip().upper()
    if not _CURRENCY.match(code):
        check.fail(f"{at}.currency", "must be an ISO 4217 code such as USD or EUR.")
    if raw is None:
        check.fail(f"{at}.price", f"a {offer_type} offer needs a price.")
        return None, code
    try:
        price = Decimal(str(raw)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        check.fail(f"{at}.price", "must be a number.")
        return None, code
    if not Decimal(0) <= price < MAX_PRICE:
        check.fail(f"{at}.price", f"must be from 0 to below {MAX_PRICE}.")
    return str(price), code


def check_title_fields(check: Checker, fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The scalar fields of a title (any subset on update), checked and canonical."""
    result: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "title":
            result[name] = check.text("title", value, max_length=300, required=True)
        elif name == "original_title":
            result[name] = check.text("originalTitle", value, max_length=300)
        elif name == "synopsis":
            result[name] = check.text("synopsis", value, max_length=MAX_SYNOPSIS)
        elif name == "year":
            result[name] = check.year("year", value)
        elif name == "runtime_minutes":
            result[name] = check.runtime("runtime", value)
        elif name == "content_rating":
            result[name] = check.rating("contentRating", value)
        elif name == "imdb_id":
            result[name] = check.pattern("imdbId", value, _IMDB, "tt0133093")
        elif name == "tmdb_id":
            result[name] = check.pattern("tmdbId", value, _TMDB, "603")
        elif name == "eidr_id":
            result[name] = check.pattern(
                "eidrId", value, _EIDR, "10.5240/C1D2-3E4F-5A6B-7C8D-9E0F-A"
            )
        elif name == "genres":
            result[name] = check_genres(check, value or [])
        elif name in ("season_number", "episode_number"):
            label = "seasonNumber" if name == "season_number" else "episodeNumber"
            result[name] = check.number(label, value, low=0, required=False)
        else:  # pragma: no cover - the GraphQL input names every field
            check.fail(name, "cannot be changed.")
    if creating and "title" not in fields:
        check.fail("title", "is required.")
    return result


def check_genres(check: Checker, genres: list[str]) -> list[str]:
    result: list[str] = []
    for index, genre in enumerate(genres):
        name = check.text(f"genres[{index}]", genre, max_length=64, required=True)
        if name and name not in result:
            result.append(name)
    return sorted(result)


def check_credits(credits: list[dict[str, Any]], known_people: set[str]) -> list[dict[str, Any]]:
    """Cast and crew in billing order; every person must exist."""
    check = Checker()
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for index, credit in enumerate(credits):
        at = f"credits[{index}]"
        person_id = str(credit.get("person_id") or "")
        if person_id not in known_people:
            check.fail(f"{at}.personId", f"no person {person_id!r} in the catalog.")
        role = check.choice(f"{at}.role", str(credit.get("role")), ROLES)
        job = check.text(f"{at}.job", credit.get("job"), max_length=60)
        character = check.text(f"{at}.character", credit.get("character"), max_length=200)
        if role == "crew" and job is None:
            check.fail(f"{at}.job", "a crew credit needs a job (Director, Writer, ...).")
        if role == "cast" and job is not None:
            check.fail(f"{at}.job", "a cast credit has a character, not a job.")
        if role == "crew" and character is not None:
            check.fail(f"{at}.character", "a crew credit has a job, not a character.")
        if (person_id, role) in seen:
            check.fail(at, f"repeats the {role} credit of {person_id!r}.")
        seen.add((person_id, role))
        result.append(
            {
                "person_id": person_id,
                "role": role,
                "job": job,
                "character": character,
                "position": index,
            }
        )
    check.done()
    return result
