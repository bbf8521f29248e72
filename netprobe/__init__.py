"""netprobe: edgefleet's small probe agent (standard library only; docs/doctor.md).

It answers sequenced UDP probes, sends them to its peers at a steady rate with the don't-fragment
bit set, and exports what it saw in the Prometheus text format: probes sent and lost per path and
packet size, round-trip-time quantiles, and the node's NIC and conntrack counters.
"""

from .agent import Agent, AgentConfig, Identity, Target, load_config

__all__ = ["Agent", "AgentConfig", "Identity", "Target", "load_config"]
