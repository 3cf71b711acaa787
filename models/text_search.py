"""Turns what a user types into a full-text condition backed by the GIN index.

Bare words must all appear (matched on their stems, accents and case ignored);
"quoted phrases" must appear with their words adjacent and in order.
Punctuation separates words, as the text search parser treats it.
"""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal, true
from sqlalchemy.dialects.postgresql import REGCONFIG

from models.incident import FOLD_FUNCTION, SEARCH_CONFIG, Incident

_PHRASE = re.compile(r'"([^"]*)"')


@dataclass(frozen=True, slots=True)
class TextQuery:
    words: str
    phrases: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.words.strip() and not any(p.strip() for p in self.phrases)


def parse_text_query(text: str) -> TextQuery:
    phrases = tuple(p.strip() for p in _PHRASE.findall(text) if p.strip())
    # An unbalanced quote is read as a plain word separator.
    words = _PHRASE.sub(" ", text).replace('"', " ")
    return TextQuery(words=" ".join(words.split()), phrases=phrases)


def text_condition(query: TextQuery) -> ColumnElement[bool]:
    """One `@@` over the AND of every part, so the GIN index serves it whole.

    Parts made only of stop words ("the") drop out instead of matching nothing.
    """
    config = literal(SEARCH_CONFIG).cast(REGCONFIG())
    parts: list[ColumnElement[Any]] = []
    if query.words:
        parts.append(func.plainto_tsquery(config, _fold(query.words)))
    parts.extend(
        func.phraseto_tsquery(config, _fold(phrase)) for phrase in query.phrases
    )
    if not parts:
        return true()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined.op("&&")(part)
    return Incident.search_vector.op("@@")(combined)


def _fold(value: str) -> ColumnElement[str]:
    return getattr(func, FOLD_FUNCTION)(value)  # type: ignore[no-any-return]
