"""Turns what a user types into a full-text condition backed by the GIN index.

The stored descriptions and the query both go through cases_fold, so case,
Latin-1 accents and punctuation never decide a match. Bare words must all
appear, matched on their English stems ("bruise" finds "bruised"); words too
common to be indexed ("the", "not") are skipped. A "quoted phrase" must appear
as written: the index finds candidates by the phrase's stems, then a LIKE over
the folded description keeps those holding the phrase word for word, common
words included, so "not eaten" does not find "had eaten".

Letters outside Latin-1 keep their accents ("Lodz" does not find "Łódź"): the
unaccent extension would fold them, but the embedded PostgreSQL lacks it.
"""

import re
from dataclasses import dataclass
from functools import reduce
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    SQLColumnExpression,
    and_,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncConnection

from models.incident import (
    FOLD_FUNCTION,
    SCHOOL_QUERY_FUNCTION,
    SEARCH_CONFIG,
    Incident,
)

_PHRASE = re.compile(r'"([^"]*)"')


@dataclass(frozen=True, slots=True)
class TextQuery:
    words: str
    phrases: tuple[str, ...]

    @property
    def is_blank(self) -> bool:
        """Nothing to look for: not one letter or digit."""
        return not self.words and not self.phrases


def parse_text_query(text: str) -> TextQuery:
    phrases = tuple(p for p in _PHRASE.findall(text) if _has_word(p))
    # An unbalanced quote is read as a plain word separator.
    words = _PHRASE.sub(" ", text).replace('"', " ")
    return TextQuery(words=words if _has_word(words) else "", phrases=phrases)


def _has_word(text: str) -> bool:
    return any(char.isalnum() for char in text)


def _tsquery(query: TextQuery) -> ColumnElement[Any]:
    """The AND of the words and of each phrase; stop words drop out of it."""
    config = literal(SEARCH_CONFIG).cast(REGCONFIG())
    parts: list[ColumnElement[Any]] = []
    if query.words:
        words: BindParameter[str] = bindparam("words", query.words)
        parts.append(func.plainto_tsquery(config, _fold(words)))
    parts.extend(
        func.phraseto_tsquery(config, _fold(_phrase(n, phrase)))
        for n, phrase in enumerate(query.phrases)
    )
    return reduce(lambda left, right: left.op("&&")(right), parts)


async def is_indexable(conn: AsyncConnection, query: TextQuery) -> bool:
    """False when every word is too common to be indexed ("the", "to be").

    Such a search could only be answered by reading every description.
    """
    statement = select(func.numnode(_tsquery(query)) > 0)
    return bool((await conn.execute(statement)).scalar_one())


def text_condition(query: TextQuery, school: ColumnElement[int]) -> ColumnElement[bool]:
    """One `@@` the GIN index serves whole, then an exact check per phrase.

    The query must not be blank. `school` is the school searched: the index
    holds its lexemes under its id (see models.incident).
    """
    in_school = getattr(func, SCHOOL_QUERY_FUNCTION)(school, _tsquery(query))
    conditions = [Incident.search_vector.bool_op("@@")(in_school)]
    # Folded text is words joined by single spaces, so padding it makes
    # "% older pupils %" match whole words only.
    padded = literal(" ") + _fold(Incident.description) + literal(" ")
    conditions.extend(
        padded.ilike(
            literal("% ") + func.btrim(_fold(_phrase(n, phrase))) + literal(" %")
        )
        for n, phrase in enumerate(query.phrases)
    )
    return and_(*conditions)


def text_params(query: TextQuery) -> dict[str, str]:
    """Values for the named parameters of text_condition's statement."""
    params = {f"phrase_{n}": phrase for n, phrase in enumerate(query.phrases)}
    if query.words:
        params["words"] = query.words
    return params


def _phrase(n: int, phrase: str) -> BindParameter[str]:
    return bindparam(f"phrase_{n}", phrase)


def _fold(value: str | SQLColumnExpression[str]) -> ColumnElement[str]:
    fold: ColumnElement[str] = getattr(func, FOLD_FUNCTION)(value)
    return fold
