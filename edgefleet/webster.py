"""Karmada's static-weight replica division, ported to Python so edgefleet can prove its export exact.

What Karmada does (read at karmada-io/karmada commit f8fdd02df3760fd9521624f284877fa84e7be6ef,
``pkg/scheduler/core/division_algorithm.go`` ``getStaticWeightInfoList``, ``pkg/scheduler/core/assignment.go``
``assignByStaticWeightStrategy``, ``pkg/util/helper/binding.go`` ``Dispenser``/``tieBreakerByUID`` and
``pkg/util/helper/webstermethod.go`` ``AllocateWebsterSeats``), restated here in our own words:

1. **Weights.** Each candidate cluster (one that passed the policy's cluster affinity and is not tainted
   away) gets the *largest* weight among the ``staticWeightList`` rules whose ``targetCluster`` matches it.
   A cluster whose weight is 0 (no rule matches, or the rule says 0) is dropped from the division. If that
   leaves a weight sum of 0, every candidate cluster gets weight 1 instead (an even split).
2. **Seats.** ``spec.replicas`` seats are handed out one at a time by the Webster (Sainte-Laguë) highest-
   averages rule: the next replica goes to the cluster with the largest ``weight / (2 * replicas_so_far + 1)``,
   computed as a float64 quotient. On an exactly equal quotient the cluster holding fewer replicas wins;
   if those are equal too, the cluster names decide, ascending or descending depending on the resource's
   UID: the low bit of the 32-bit FNV-1a hash of the UID, 1 -> the larger name wins, 0 (or no UID) -> the
   smaller name wins.
3. **Result.** Clusters left with 0 replicas are removed from the scheduling result.

Why the export is exact: with every weight equal to the wanted count ``c_i`` and ``spec.replicas`` equal to
their sum ``S``, the quotients ``c_i / (2k + 1)`` that exceed 1/2 are exactly those with ``k < c_i`` (there
are ``S`` of them), and every other quotient is below 1/2; so the ``S`` largest quotients are unique up to
the order in which they are taken, and cluster ``i`` receives exactly ``c_i`` seats, whatever the tie
rule. ``tests/test_webster.py`` checks this over many random placements, and checks the port against hand-
worked divisions where the weights are *not* the counts.

Pure Python, no Karmada code: a port of the behaviour, not of the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KARMADA_COMMIT",
    "StaticWeight",
    "divide_policy",
    "fnv1a32",
    "names_descending",
    "static_weights",
    "webster",
]

KARMADA_COMMIT = "f8fdd02df3760fd9521624f284877fa84e7be6ef"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


@dataclass(frozen=True)
class StaticWeight:
    """One ``staticWeightList`` entry, reduced to what edgefleet writes: cluster names and a weight
    (``targetCluster.clusterNames`` minus ``targetCluster.exclude``)."""

    clusters: frozenset[str]
    weight: int
    exclude: frozenset[str] = frozenset()

    def matches(self, cluster: str) -> bool:
        # An empty clusterNames list with no other selector matches every cluster (Karmada's ClusterMatches).
        if cluster in self.exclude:
            return False
        return not self.clusters or cluster in self.clusters


def fnv1a32(text: str) -> int:
    """The 32-bit FNV-1a hash of ``text``'s UTF-8 bytes (Go's ``hash/fnv`` ``New32a``)."""
    h = _FNV32_OFFSET
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def names_descending(uid: str) -> bool:
    """Karmada's UID-based name tie-break: True when the larger cluster name wins a full tie."""
    return bool(uid) and bool(fnv1a32(uid) & 1)


def static_weights(candidates: Iterable[str], rules: Sequence[StaticWeight]) -> dict[str, int]:
    """Step 1: each candidate's weight (the largest matching rule's), weight-0 clusters dropped, all-zero ->
    every candidate weight 1. Candidates keep their given order; names must be unique."""
    names = list(candidates)
    if len(set(names)) != len(names):
        raise ValueError(f"candidate clusters are not unique: {names}")
    weights: dict[str, int] = {}
    for name in names:
        best = 0
        for rule in rules:
            if rule.weight < 0:
                raise ValueError(f"weight {rule.weight} is negative")
            if rule.matches(name):
                best = max(best, rule.weight)
        if best > 0:
            weights[name] = best
    if sum(weights.values()) == 0:
        return dict.fromkeys(names, 1)
    return weights


def _priority(votes: int, seats: int) -> float:
    # The same float64 quotient Karmada compares (IEEE 754 double in Go and in Python).
    return float(votes) / float(2 * seats + 1)


def webster(seats: int, votes: Mapping[str, int], *, descending_names: bool = False) -> dict[str, int]:
    """Step 2: hand out ``seats`` one by one to the party with the largest ``votes / (2 * seats_held + 1)``;
    ties: fewer seats held first, then the smaller name (the larger with ``descending_names``).
    Returns every party's seats, zeros included, by name."""
    if seats < 0:
        raise ValueError(f"seats {seats} is negative")
    held = dict.fromkeys(sorted(votes), 0)
    if not held:
        return {}

    def better(a: str, b: str) -> bool:
        pa, pb = _priority(votes[a], held[a]), _priority(votes[b], held[b])
        if pa != pb:
            return pa > pb
        if held[a] != held[b]:
            return held[a] < held[b]
        return a > b if descending_names else a < b

    for _ in range(seats):
        winner = None
        for name in held:
            if winner is None or better(name, winner):
                winner = name
        assert winner is not None
        held[winner] += 1
    return held


def divide_policy(
    policy: Mapping[str, Any], replicas: int, *, unavailable: Iterable[str] = (), uid: str = ""
) -> dict[str, int]:
    """What Karmada's scheduler assigns for a PropagationPolicy with ``Divided``/``Weighted`` static weights
    and a workload of ``replicas``: candidates are ``placement.clusterAffinity.clusterNames`` minus the
    ``unavailable`` ones (tainted or gone), then steps 1-3. Returns cluster -> replicas, zeros removed."""
    placement = policy["spec"]["placement"]
    scheduling = placement["replicaScheduling"]
    if scheduling.get("replicaSchedulingType", "Divided") != "Divided":
        raise ValueError("only Divided scheduling is ported")
    if scheduling.get("replicaDivisionPreference") != "Weighted":
        raise ValueError("only Weighted division is ported")
    gone = set(unavailable)
    candidates = [c for c in placement["clusterAffinity"]["clusterNames"] if c not in gone]
    preference = scheduling.get("weightPreference")
    if preference is None:
        rules = [StaticWeight(frozenset(), 1)]  # no preference: every cluster weighs the same
    else:
        if preference.get("dynamicWeight"):
            raise ValueError("dynamic weights are not ported")
        rules = [
            StaticWeight(
                frozenset(entry["targetCluster"].get("clusterNames") or ()),
                int(entry["weight"]),
                frozenset(entry["targetCluster"].get("exclude") or ()),
            )
            for entry in preference.get("staticWeightList") or ()
        ]
    weights = static_weights(candidates, rules)
    seats = webster(replicas, weights, descending_names=names_descending(uid))
    return {name: n for name, n in seats.items() if n > 0}
