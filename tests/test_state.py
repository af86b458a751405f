"""What flows between layers: the query with its unit tests appended, never changed in place."""

from __future__ import annotations

from archon_cli.state import LayerInput, Query


def test_unit_tests_are_appended_to_the_last_user_turn() -> None:
    query = Query(
        messages=(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Capital of France?"},
        ),
        id="q1",
    )
    seen = query.with_unit_tests(("names Paris", "is one word"))
    assert seen.id == "q1" and seen.messages[:3] == query.messages[:3]
    assert seen.messages[3]["content"] == (
        "Capital of France?\n\nA correct answer passes these tests:\n- names Paris\n- is one word"
    )
    assert query.messages[3]["content"] == "Capital of France?"  # the original is unchanged
    assert query.with_unit_tests(()) is query


def test_a_layer_knows_the_query_as_asked() -> None:
    asked = Query.from_prompt("q")
    seen = asked.with_unit_tests(("t",))
    assert LayerInput(query=seen, original=asked).asked is asked
    assert LayerInput(query=asked).asked is asked
