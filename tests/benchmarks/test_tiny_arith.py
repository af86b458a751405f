"""tiny-arith: 600 generated questions, a half-and-half dev/test split, stable ids, the instruction
kept apart from the question, and few-shot examples that are never the question asked."""

from __future__ import annotations

from collections import Counter

from archon_cli.benchmarks.tiny_arith import INSTRUCTION, TinyArith, few_shot_examples, generate
from archon_cli.evaluation.run_folder import plan_questions


def test_six_hundred_questions_with_stable_ids_and_the_original_first_sixty_of_each_category() -> None:
    questions = generate()
    assert len(questions) == 600 and len({q.id for q in questions}) == 600
    assert Counter(q.category for q in questions) == {"addition": 200, "subtraction": 200, "comparison": 200}
    by_id = {q.id: q for q in questions}
    # the benchmark's original 180 questions keep their ids, text and answers
    assert by_id["add-000"].turns == ("What is 2 + 3?",) and by_id["add-000"].reference == "5"
    assert by_id["sub-000"].turns == ("What is 4 - 3?",) and by_id["add-059"].turns == ("What is 6 + 3?",)
    assert by_id["cmp-000"].turns == ("Which is larger, 33 or 85?",) and by_id["cmp-059"].reference == "64"
    assert generate() == questions  # generated, not random
    for q in questions:
        a, b = [int(t) for t in q.turns[0].rstrip("?").replace(",", "").split() if t.isdigit()]
        expected = {"addition": a + b, "subtraction": a - b, "comparison": max(a, b)}[q.category]
        assert q.reference == str(expected), q


def test_the_benchmark_turn_is_the_question_and_its_instruction() -> None:
    question = generate()[0]
    query = question.query()
    assert query.messages == ({"role": "user", "content": "What is 2 + 3?" + INSTRUCTION},)
    assert query.question == "What is 2 + 3?" and query.instruction == INSTRUCTION


def test_dev_and_test_hold_three_hundred_questions_each_and_a_limit_takes_every_category() -> None:
    benchmark = TinyArith()
    dev = plan_questions(benchmark, "dev", 0, None)
    test = plan_questions(benchmark, "test", 0, None)
    assert len(dev) == len(test) == 300 and not {q.id for q in dev} & {q.id for q in test}
    assert plan_questions(benchmark, "dev", 0, None) == dev  # deterministic for a seed
    assert {q.id for q in plan_questions(benchmark, "dev", 1, None)} != {q.id for q in dev}
    assert {q.category for q in plan_questions(benchmark, "dev", 0, 6)} == {"addition", "subtraction", "comparison"}


def test_few_shot_examples_share_the_category_and_never_show_the_question() -> None:
    for question in generate():
        examples = few_shot_examples(question)
        assert len(examples) == 8 and question.turns[0] not in [q for q, _ in examples]
        sign = {"addition": "+", "subtraction": "-", "comparison": "larger"}[question.category]
        assert all(sign in q for q, _ in examples)
        assert TinyArith().few_shot(question) == examples
