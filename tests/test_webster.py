"""Our port of Karmada's static-weight division (``edgefleet/webster.py``): it is a real Webster method
(hand-worked divisions where the weights are not the counts, Karmada's tie rules, weight 0 and all-zero
weights), and with weights = placed counts and replicas = their sum it gives back exactly the counts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgefleet.webster import (
    StaticWeight,
    divide_policy,
    fnv1a32,
    names_descending,
    static_weights,
    webster,
)

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,14}[a-z0-9]", fullmatch=True)
PLACEMENTS = st.dictionaries(NAMES, st.integers(min_value=1, max_value=200), min_size=1, max_size=16)
UIDS = st.one_of(st.just(""), st.uuids().map(str))


def policy(weights: dict[str, int], clusters: list[str] | None = None) -> dict[str, Any]:
    """A PropagationPolicy as the export writes it: affinity = the clusters, one static weight each."""
    return {
        "spec": {
            "placement": {
                "clusterAffinity": {"clusterNames": sorted(clusters if clusters is not None else weights)},
                "replicaScheduling": {
                    "replicaSchedulingType": "Divided",
                    "replicaDivisionPreference": "Weighted",
                    "weightPreference": {
                        "staticWeightList": [
                            {"targetCluster": {"clusterNames": [c]}, "weight": w} for c, w in sorted(weights.items())
                        ]
                    },
                },
            }
        }
    }


# --- the property the export relies on -------------------------------------------------------------


@given(PLACEMENTS, UIDS)
def test_weights_equal_to_the_counts_reproduce_the_counts(counts: dict[str, int], uid: str) -> None:
    assert divide_policy(policy(counts), sum(counts.values()), uid=uid) == counts


@given(PLACEMENTS, st.booleans(), st.randoms())
def test_the_result_does_not_depend_on_the_order_of_the_clusters(
    counts: dict[str, int], descending: bool, rnd: Any
) -> None:
    shuffled = list(counts.items())
    rnd.shuffle(shuffled)
    assert webster(sum(counts.values()), dict(shuffled), descending_names=descending) == dict(sorted(counts.items()))


def _highest_averages(seats: int, votes: dict[str, int]) -> dict[str, int] | None:
    """An independent statement of Webster: the `seats` largest quotients v/(2k+1) win; None on a tie at
    the cut (then the tie rules decide, tested below)."""
    quotients = sorted(((v / (2 * k + 1), name) for name, v in votes.items() for k in range(seats)), reverse=True)
    if seats < len(quotients) and quotients[seats - 1][0] == quotients[seats][0]:
        return None
    out = dict.fromkeys(votes, 0)
    for _, name in quotients[:seats]:
        out[name] += 1
    return dict(sorted(out.items()))


@given(st.dictionaries(NAMES, st.integers(min_value=1, max_value=50), min_size=1, max_size=8), st.integers(1, 60))
def test_the_port_is_webster_for_any_weights(votes: dict[str, int], seats: int) -> None:
    expected = _highest_averages(seats, votes)
    if expected is not None:
        assert webster(seats, votes) == expected
    assert sum(webster(seats, votes).values()) == seats


# --- hand-worked divisions (weights are not the counts) ----------------------------------------------


@pytest.mark.parametrize(
    ("seats", "weights", "expected"),
    [
        # Karmada's own examples (assignByStaticWeightStrategy's comment): 9 replicas at 1:2 and 1:3.
        (9, {"a": 1, "b": 2}, {"a": 3, "b": 6}),
        (9, {"a": 1, "b": 3}, {"a": 2, "b": 7}),  # quotients: b 3; a 1, b 1; b .6, .43; a .33, b .33; b .27, .23
        # Equal weights, 10 seats: 4/3/3, the extra seat to the smaller name (no UID).
        (10, {"a": 1, "b": 1, "c": 1}, {"a": 4, "b": 3, "c": 3}),
        # prod's catalog after gcp-europe-west3 is lost: 12 replicas on weights 2:3:4 -> 3:4:5.
        (12, {"aws": 2, "azure": 3, "autopilot": 4}, {"autopilot": 5, "aws": 3, "azure": 4}),
        # Webster favours the small party where D'Hondt would not: 5 seats at 6:1 -> 4:1 (D'Hondt: 5:0).
        (5, {"big": 6, "small": 1}, {"big": 4, "small": 1}),
    ],
)
def test_hand_worked_divisions(seats: int, weights: dict[str, int], expected: dict[str, int]) -> None:
    assert webster(seats, weights) == expected
    assert divide_policy(policy(weights), seats) == {k: v for k, v in expected.items() if v}


def test_a_tie_goes_to_the_cluster_with_fewer_replicas_then_by_name() -> None:
    # 2 seats at 3:1: a takes the first (3 > 1); then a's 3/3 = 1 ties b's 1/1: b holds fewer replicas, wins.
    assert webster(2, {"a": 3, "b": 1}) == {"a": 1, "b": 1}
    # A full tie (same quotient, same replicas) goes to the smaller name, or the larger one by the UID's hash.
    assert webster(1, {"a": 1, "b": 1}) == {"a": 1, "b": 0}
    assert webster(1, {"a": 1, "b": 1}, descending_names=True) == {"a": 0, "b": 1}


def test_the_uid_tie_break_is_fnv1a_parity() -> None:
    # FNV-1a 32-bit test vectors (Fowler/Noll/Vo): "" -> 0x811c9dc5, "a" -> 0xe40c292c, "b" -> 0xe70c2de5.
    assert (fnv1a32(""), fnv1a32("a"), fnv1a32("b")) == (0x811C9DC5, 0xE40C292C, 0xE70C2DE5)
    assert names_descending("") is False  # no UID: ascending
    assert names_descending("a") is False  # even hash
    assert names_descending("b") is True  # odd hash
    assert divide_policy(policy({"x": 1, "y": 1}), 1, uid="a") == {"x": 1}
    assert divide_policy(policy({"x": 1, "y": 1}), 1, uid="b") == {"y": 1}


def test_weight_zero_drops_a_cluster_and_all_zero_splits_evenly() -> None:
    rules = [StaticWeight(frozenset({"a"}), 2), StaticWeight(frozenset({"b"}), 1), StaticWeight(frozenset({"c"}), 0)]
    assert static_weights(["a", "b", "c"], rules) == {"a": 2, "b": 1}
    assert static_weights(["a", "b", "c"], [StaticWeight(frozenset({"d"}), 5)]) == {"a": 1, "b": 1, "c": 1}
    # The largest matching rule counts.
    assert static_weights(["a"], [StaticWeight(frozenset({"a"}), 1), StaticWeight(frozenset(), 4)]) == {"a": 4}
    assert divide_policy(policy({"a": 2, "b": 1, "c": 0}), 30) == {"a": 20, "b": 10}
    assert divide_policy(policy({"a": 0, "b": 0, "c": 0}), 4) == {"a": 2, "b": 1, "c": 1}


def test_a_lost_cluster_s_replicas_go_to_the_others_by_weight() -> None:
    counts = {"edge-frankfurt-01": 6, "edge-paris-01": 3}
    assert divide_policy(policy(counts), 9, unavailable=["edge-paris-01"]) == {"edge-frankfurt-01": 9}
    catalog = {"aws-us-east-1": 2, "azure-japaneast": 3, "gcp-autopilot-asia-south1": 4, "gcp-europe-west3": 3}
    assert divide_policy(policy(catalog), 12, unavailable=["gcp-europe-west3"]) == {
        "aws-us-east-1": 3,
        "azure-japaneast": 4,
        "gcp-autopilot-asia-south1": 5,
    }


def test_only_what_is_ported_is_accepted() -> None:
    duplicated = policy({"a": 1})
    duplicated["spec"]["placement"]["replicaScheduling"]["replicaSchedulingType"] = "Duplicated"
    with pytest.raises(ValueError, match="Divided"):
        divide_policy(duplicated, 1)
    with pytest.raises(ValueError, match="negative"):
        webster(-1, {"a": 1})
    assert webster(3, {}) == {}
