"""What the stack's mandatory policy rules require of a workload's locations, as placement input.

Placement applies each requirement like a constraint of the workload's own config: a filter whose
reason is the rule's name, or a larger minimum (locations, replicas per location). The loaders
(``components/policy.py``) build them from the rules' declarations (``policies/locations.py``)
and the stack's pack config; this module knows neither the pack nor Pulumi.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgefleet.components.config import model as m


@dataclass(frozen=True)
class LocationRequirement:
    """A mandatory rule's requirement on where (and how much of) a workload runs."""

    rule: str  # the policy rule's name, the reason placement gives
    requirement: str  # what it asks, as a phrase
    source: str  # the pack config that makes it mandatory (shown in errors)
    public_only: bool = True
    network_policy: bool = False  # every location's CNI enforces NetworkPolicy
    min_locations: int = 1
    min_replicas_per_location: int = 1
    exempt: frozenset[str] = frozenset()  # workloads the rule's config exempts
    remedy: str = ""  # the fix, as a phrase

    def applies_to(self, spec: m.WorkloadSpec) -> bool:
        return (not self.public_only or spec.expose is m.Expose.PUBLIC) and spec.name not in self.exempt

    @property
    def reason(self) -> str:
        """How placement names it, as a constraint: ``policy network-isolation-for-public-workloads``."""
        return f"policy {self.rule}"

    def describe(self) -> str:
        """For an error: the rule, what it asks and where it is mandatory."""
        return f"policy rule {self.rule} ({self.requirement}; mandatory in {self.source})"


def policy_filters(
    spec: m.WorkloadSpec, requirements: Sequence[LocationRequirement]
) -> list[tuple[LocationRequirement, Callable[[m.Cluster], bool]]]:
    """The requirements that remove clusters, each with its test (True: the cluster may stay)."""
    return [(r, lambda c: c.cni.network_policy) for r in requirements if r.network_policy and r.applies_to(spec)]


def strictest(
    spec: m.WorkloadSpec,
    requirements: Sequence[LocationRequirement],
    own: int,
    key: Callable[[LocationRequirement], int],
) -> tuple[int, LocationRequirement | None]:
    """The larger of the workload's own minimum and the applicable requirements' (``key``), and the
    requirement that set it (None: the workload's own)."""
    best, by = own, None
    for r in requirements:
        if r.applies_to(spec) and key(r) > best:
            best, by = key(r), r
    return best, by
