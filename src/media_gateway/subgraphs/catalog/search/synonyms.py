"""Editors' query rules: synonyms and accepted rewrites, applied to every search query.

A synonym replaces a word or phrase wherever it stands in a query ("flick" -> "movie"); a
rewrite replaces a whole query ("buzz lightyear film" -> "toy story"), usually one the search
analytics proposed (``SearchAnalytics.rewrite_proposals``). Rules are matched on the normalised
query (folded, single-spaced); the search engine's own spelling and vocabulary apply to the
result as to any query. Each change is written with its audit entry in one transaction.

Every replica applies a change within ``RELOAD_SECONDS``; the one that made it, at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from media_gateway.storage.audit import record_audit
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.catalog.search.analytics import normalize_query
from media_gateway.subgraphs.catalog.search.records import QUERY_LENGTH, SearchSynonymRecord

KINDS = ("synonym", "rewrite")
RELOAD_SECONDS = 5.0
MAX_PHRASE_WORDS = 4  # the longest synonym term, in words
MAX_RULES = 10_000


class QueryRuleError(ValueError):
    """A rule change a client can correct."""


@dataclass(frozen=True)
class QueryRule:
    id: str
    kind: str
    term: str
    replacement: str
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, record: SearchSynonymRecord) -> QueryRule:
        return cls(
            id=record.id,
            kind=record.kind,
            term=record.term,
            replacement=record.replacement,
            created_by=record.created_by,
            created_at=as_utc(record.created_at),
        )

    def audit_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "term": self.term, "replacement": self.replacement}


def apply_rules(query: str, rewrites: Mapping[str, str], synonyms: Mapping[str, str]) -> str | None:
    """The query after the rules (a whole-query rewrite first, then synonyms, longest phrase
    first, never re-applied to their own output); None when no rule matched."""
    normalized = normalize_query(query)
    if not normalized:
        return None
    rewritten = rewrites.get(normalized)
    text = rewritten if rewritten is not None else normalized
    words = text.split()
    out: list[str] = []
    index = 0
    changed = rewritten is not None
    while index < len(words):
        for width in range(min(MAX_PHRASE_WORDS, len(words) - index), 0, -1):
            phrase = " ".join(words[index : index + width])
            replacement = synonyms.get(phrase)
            if replacement is not None:
                out.append(replacement)
                index += width
                changed = True
                break
        else:
            out.append(words[index])
            index += 1
    return " ".join(out)[:QUERY_LENGTH] if changed else None


class QueryRules:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._rewrites: dict[str, str] = {}
        self._synonyms: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def _load(self) -> None:
        async with self.database.session() as session:
            records = (await session.exec(select(SearchSynonymRecord).limit(MAX_RULES))).all()
        self._rewrites = {r.term: r.replacement for r in records if r.kind == "rewrite"}
        self._synonyms = {r.term: r.replacement for r in records if r.kind == "synonym"}
        self._loaded_at = time.monotonic()

    async def _current(self) -> None:
        loaded = self._loaded_at
        if loaded is not None and time.monotonic() - loaded < RELOAD_SECONDS:
            return
        async with self._lock:
            if self._loaded_at == loaded:
                await self._load()

    async def expand(self, query: str) -> str | None:
        """The query with the editors' rules applied, or None when none matched."""
        await self._current()
        if not self._rewrites and not self._synonyms:
            return None
        return apply_rules(query, self._rewrites, self._synonyms)

    async def list(self, kind: str | None = None) -> list[QueryRule]:
        query = select(SearchSynonymRecord).order_by(
            col(SearchSynonymRecord.kind), col(SearchSynonymRecord.term)
        )
        if kind is not None:
            query = query.where(SearchSynonymRecord.kind == kind)
        async with self.database.session() as session:
            return [QueryRule.of(r) for r in (await session.exec(query)).all()]

    async def create(
        self, kind: str, term: str, replacement: str, *, actor_id: str | None
    ) -> QueryRule:
        if kind not in KINDS:
            raise QueryRuleError(f"Unknown rule kind {kind!r}.")
        normalized_term, normalized_replacement = (
            normalize_query(term),
            normalize_query(replacement),
        )
        if not normalized_term or not normalized_replacement:
            raise QueryRuleError("The term and its replacement must not be blank.")
        if len(term) > QUERY_LENGTH or len(replacement) > QUERY_LENGTH:
            raise QueryRuleError(f"Terms are at most {QUERY_LENGTH} characters.")
        if normalized_term == normalized_replacement:
            raise QueryRuleError("A term cannot be replaced by itself.")
        if kind == "synonym" and len(normalized_term.split()) > MAX_PHRASE_WORDS:
            raise QueryRuleError(f"A synonym's term is at most {MAX_PHRASE_WORDS} words.")
        record = SearchSynonymRecord(
            id=uuid.uuid4().hex,
            kind=kind,
            term=normalized_term,
            replacement=normalized_replacement,
            created_by=actor_id,
        )
        rule = QueryRule.of(record)
        try:
            async with self.database.transaction() as session:
                existing = (
                    await session.exec(
                        select(SearchSynonymRecord).where(
                            SearchSynonymRecord.kind == kind,
                            SearchSynonymRecord.term == normalized_term,
                        )
                    )
                ).first()
                if existing is not None:
                    raise QueryRuleError(f"There is already a {kind} for {normalized_term!r}.")
                session.add(record)
                await session.flush()
                rule = QueryRule.of(record)
                await record_audit(
                    session,
                    actor_id=actor_id,
                    action=f"search.{kind}.create",
                    target_type=f"search_{kind}",
                    target_id=record.id,
                    after=rule.audit_state(),
                )
        except IntegrityError as exc:  # the same rule, created at the same moment elsewhere
            raise QueryRuleError(f"There is already a {kind} for {normalized_term!r}.") from exc
        self._loaded_at = None
        return rule

    async def delete(self, rule_id: str, *, actor_id: str | None) -> QueryRule | None:
        """Remove a rule; the rule as it was, or None when there is none with this id."""
        async with self.database.transaction() as session:
            record = await session.get(SearchSynonymRecord, rule_id)
            if record is None:
                return None
            rule = QueryRule.of(record)
            await session.delete(record)
            await record_audit(
                session,
                actor_id=actor_id,
                action=f"search.{rule.kind}.delete",
                target_type=f"search_{rule.kind}",
                target_id=rule.id,
                before=rule.audit_state(),
            )
        self._loaded_at = None
        return rule
