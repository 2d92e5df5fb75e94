"""A partition's state is found by its key, and stays right when singer-sdk changes the list."""

from __future__ import annotations

import copy
from typing import Any

from tap_cloudflare_stream.records.state import IndexedStateManager

A = {"account_id": "a"}
B = {"account_id": "b"}


def manager(tap_state: dict[str, Any]) -> IndexedStateManager:
    return IndexedStateManager(stream_name="s", tap_state=tap_state, tap_name="t")


def partitions(tap_state: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = tap_state["bookmarks"]["s"]["partitions"]
    return found


def test_a_partition_state_is_the_entry_of_the_list_with_its_context() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    a, b = states.get_context_state(A), states.get_context_state(B)
    assert partitions(tap_state) == [{"context": A}, {"context": B}]
    assert states.get_context_state(A) is a is partitions(tap_state)[0]
    assert states.get_context_state(B) is b is partitions(tap_state)[1]


def test_the_list_replaced_by_copies_in_place_is_followed() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(A)["replication_key_value"] = "1"
    states.get_context_state(B)
    listed = partitions(tap_state)
    listed[:] = copy.deepcopy(listed)  # the same list, new entries
    state = states.get_context_state(A)
    assert state is partitions(tap_state)[0]
    state["replication_key_value"] = "2"
    assert partitions(tap_state)[0] == {"context": A, "replication_key_value": "2"}


def test_the_list_reordered_or_shortened_is_followed() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(A)
    states.get_context_state(B)
    listed = partitions(tap_state)
    listed.reverse()
    assert states.get_context_state(A) is listed[1]
    assert states.get_context_state(B) is listed[0]
    del listed[0]  # B's entry
    assert states.get_context_state(B) is listed[1]
    assert [p["context"] for p in listed] == [A, B]


def test_a_new_list_is_followed() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(A)
    tap_state["bookmarks"]["s"]["partitions"] = [{"context": B}, {"context": A, "x": 1}]
    assert states.get_context_state(A) == {"context": A, "x": 1}
    assert states.get_context_state(A) is partitions(tap_state)[1]


def test_an_entry_removed_from_the_end_is_made_again() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(A)
    states.get_context_state(B)
    listed = partitions(tap_state)
    del listed[1]  # B's entry, where B's lookup would look first
    b = states.get_context_state(B)
    assert listed == [{"context": A}, {"context": B}]
    assert b is listed[1]


def test_a_partition_with_unhashable_values_gets_its_own_state() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    first, second = {"account_id": "a", "ids": [1]}, {"account_id": "a", "ids": [2]}
    one, two = states.get_context_state(first), states.get_context_state(second)
    assert partitions(tap_state) == [{"context": first}, {"context": second}]
    assert states.get_context_state(first) is one is partitions(tap_state)[0]
    assert states.get_context_state(second) is two is partitions(tap_state)[1]


def test_a_removed_list_is_made_again() -> None:
    tap_state: dict[str, Any] = {}
    states = manager(tap_state)
    states.get_context_state(A)
    del tap_state["bookmarks"]["s"]["partitions"]
    a = states.get_context_state(A)
    assert partitions(tap_state) == [{"context": A}]
    assert a is partitions(tap_state)[0]
