from datetime import UTC, datetime

import pytest

from postroom.store.query import QueryError, TextTerm, parse_query


def test_operators_and_free_text_are_separated() -> None:
    query = parse_query('from:alice@example.com to:bob subject:"big news" tag:signup has:attachment is:unread hello')
    assert TextTerm("sender", ("alice", "example", "com"), phrase=True) in query.include
    assert TextTerm("recipients", ("bob",), phrase=False) in query.include
    assert TextTerm("subject", ("big", "news"), phrase=True) in query.include
    assert TextTerm(None, ("hello",), phrase=False) in query.include
    assert query.tags == ["signup"]
    assert query.has_attachment is True
    assert query.is_read is False
    assert query.needs_bodies


def test_header_only_queries_do_not_need_the_full_parse() -> None:
    assert not parse_query("from:alice subject:welcome to:bob tag:x").needs_bodies


def test_negation_and_dates() -> None:
    query = parse_query("-from:spammer !tag:old is:read before:2026-02-01 after:2026-01-01T10:00:00Z")
    assert query.exclude == [TextTerm("sender", ("spammer",), phrase=False)]
    assert query.without_tags == ["old"]
    assert query.is_read is True
    assert query.before == datetime(2026, 2, 1, tzinfo=UTC)
    assert query.after == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_unknown_operator_is_searched_as_text() -> None:
    query = parse_query("https://example.com/reset")
    assert query.include == [TextTerm(None, ("https", "example", "com", "reset"), phrase=True)]


def test_prefix_search() -> None:
    assert parse_query("welc*").include == [TextTerm(None, ("welc",), phrase=False, prefix=True)]


@pytest.mark.parametrize("bad", ["is:maybe", "has:kittens", "before:yesterdayish", "tag:"])
def test_bad_operators_are_reported(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_query(bad)


def test_empty_query() -> None:
    assert parse_query("   ").is_empty
