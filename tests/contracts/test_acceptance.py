"""Every contract's acceptance examples run against the real handlers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.contracts.base import REGISTRY, Example, Operation
from chalicelib.contracts.openapi import document  # noqa: F401 - registers every operation
from tests.contracts.harness import HARNESS_GIVES, USERS, given, request_of, substitute

CASES = [(op, example) for op in REGISTRY.values() for example in op.examples]


def assert_subset(expected: Any, actual: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing in {actual!r}"
            assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if not expected:
            assert actual == [], f"{where}: expected [], got {actual!r}"
        for index, value in enumerate(expected):
            assert index < len(actual), f"{where}[{index}] missing"
            assert_subset(value, actual[index], f"{where}[{index}]")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize(("operation", "example"), CASES, ids=[f"{op.key}:{ex.key}" for op, ex in CASES])
def test_acceptance_example(api, operation: Operation, example: Example):
    ids = given(api, example.given)
    answer = request_of(operation, example, ids).send(api)
    assert answer.status == example.status, answer.body
    if example.output is not None:
        assert_subset(substitute(example.output, ids), answer.json)


def test_every_operation_has_an_acceptance_example_and_says_its_goal_context_and_description():
    for operation in REGISTRY.values():
        assert operation.examples, f"{operation.key} has no acceptance example"
        assert operation.goal and operation.context and operation.description, operation.key


def test_every_scenario_says_given_when_and_then_under_a_key_of_its_own():
    for operation in REGISTRY.values():
        keys = [scenario.key for scenario in operation.scenarios]
        assert len(keys) == len(set(keys)), f"{operation.key} repeats a scenario key: {keys}"
        for scenario in operation.scenarios:
            where = f"{operation.key}:{scenario.key}"
            assert scenario.key and scenario.given and scenario.when and scenario.then, where
            assert all(step.strip() for step in (*scenario.given, *scenario.when, *scenario.then)), where


def test_every_example_has_a_key_of_its_own_and_asks_only_for_what_the_harness_sets_up():
    for operation in REGISTRY.values():
        keys = [example.key for example in operation.examples]
        assert len(keys) == len(set(keys)), f"{operation.key} repeats an example key: {keys}"
        for example in operation.examples:
            assert set(example.given) <= HARNESS_GIVES, f"{operation.key}:{example.key} asks for {example.given}"
            assert example.as_user in USERS, f"{operation.key}:{example.key} runs as {example.as_user}"


def test_examples_inputs_are_json():
    for operation, example in CASES:
        assert json.loads(json.dumps(example.input)) == example.input, f"{operation.key}:{example.key}"
