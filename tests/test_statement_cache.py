from datetime import UTC, datetime

import pytest

from models.incident_search import IncidentScope, _check_bound, page_statement
from models.text_search import parse_text_query


def test_cached_statement_refuses_a_value_the_request_does_not_give() -> None:
    scope = IncidentScope(
        school_id=1,
        since=datetime(2026, 1, 1, tzinfo=UTC),
        text=parse_text_query('bruise "lunch money"'),
    )
    statement = page_statement(scope, 10, None)
    given = {
        "school_id": 1,
        "since": scope.since,
        "words": "bruise",
        "phrase_0": "lunch money",
    }
    _check_bound(statement, given)
    without_school = {k: v for k, v in given.items() if k != "school_id"}
    with pytest.raises(RuntimeError):
        _check_bound(statement, without_school)
