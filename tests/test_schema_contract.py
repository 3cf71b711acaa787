from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes, find_dangerous_changes

from cases.export_schema import SDL_PATH, sdl
from schema import schema

# The contract clients build on lives beside the project, in ../shared; a copy
# is committed so that a clone checked out on its own still tests against it.
CONTRACT_COPY = Path(__file__).resolve().parents[1] / "docs" / "contract.graphql"
SHARED_CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract.graphql"


def test_committed_sdl_matches_code() -> None:
    assert SDL_PATH.read_text() == sdl(), "run: python -m cases.export_schema"


def test_schema_keeps_every_promise_of_the_contract() -> None:
    contract = build_schema(CONTRACT_COPY.read_text())
    breaking = find_breaking_changes(contract, schema._schema)
    dangerous = find_dangerous_changes(contract, schema._schema)
    assert [c.description for c in breaking] + [c.description for c in dangerous] == []


def test_committed_contract_is_the_shared_one() -> None:
    if not SHARED_CONTRACT.exists():
        pytest.skip("no ../shared/contract.graphql beside this clone to compare")
    assert CONTRACT_COPY.read_text() == SHARED_CONTRACT.read_text(), (
        "the shared contract changed: copy it to docs/contract.graphql"
    )
