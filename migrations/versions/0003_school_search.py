"""school search: one school's words in the text index, apart from every other's

Revision ID: 0003
Revises: 0002

Each lexeme of an incident's description is stored as "<school id>.<lexeme>",
and a search asks for the same, so the GIN index keeps a posting list per
school and word. Before, a search in one school read the word's postings of
every school and threw most away: "phone messages" walked 175,205 entries to
find 17,670 in the largest school of the benchmark dataset. The upgrade
rewrites the incidents table once (the generated column is recomputed).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Lexemes come out of cases_fold and to_tsvector as letters and digits, but the
# quoting below would survive a quote or backslash all the same.
SCHOOL_WORDS_SQL = """
CREATE FUNCTION cases_school_words(school bigint, words tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT coalesce(string_agg(
        '''' || school || '.'
            || replace(replace(lexeme, '\\', '\\\\'), '''', '''''') || ''''
            || coalesce(':' || nullif(array_to_string(positions, ','), ''), ''),
        ' '
    ), '')::tsvector
    FROM unnest(words)
$$
"""

# A tsquery's text form quotes each lexeme ('phone' & 'messag', 'not' <-> 'eaten'),
# doubling any quote inside it; each quoted lexeme gets the school's prefix.
SCHOOL_QUERY_SQL = """
CREATE FUNCTION cases_school_query(school bigint, query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(
        query::text, '''((?:[^'']|'''')+)''', '''' || school || '.\\1''', 'g'
    )::tsquery
$$
"""

SCHOOL_VECTOR = (
    "cases_school_words(school_id,"
    " to_tsvector('english'::regconfig, cases_fold(description)))"
)
PLAIN_VECTOR = "to_tsvector('english'::regconfig, cases_fold(description))"


def _search_column(expression: str) -> None:
    op.execute("DROP INDEX ix_incidents_search")
    op.execute("ALTER TABLE incidents DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE incidents ADD COLUMN search_vector tsvector NOT NULL"
        f" GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_incidents_search ON incidents USING gin (search_vector)")


def upgrade() -> None:
    op.execute(SCHOOL_WORDS_SQL)
    op.execute(SCHOOL_QUERY_SQL)
    _search_column(SCHOOL_VECTOR)


def downgrade() -> None:
    _search_column(PLAIN_VECTOR)
    op.execute("DROP FUNCTION cases_school_query(bigint, tsquery)")
    op.execute("DROP FUNCTION cases_school_words(bigint, tsvector)")
