"""A gate that holds an update until a newly placed location answers its DNS health check's request.

Placement per window (``docs/placement.md#moving-between-windows``) moves a workload between
locations: the update creates the new locations and the Pulumi engine deletes the closed ones at its
end, after every create. ``HealthGate`` is one more create per steered location of a scheduled
workload, after the location's health check and DNS records: it sends the request the health check
sends (the check's protocol, the location's endpoint and port, the workload's probe path, its host
name as ``Host``) until ``successes`` answers in a row are 2xx (``failure_threshold`` of
``traffic.health_check``, one every ``interval`` seconds), so the old locations are deleted only
after the new ones pass. It fails the update after ``timeout`` seconds without that: the old
locations are then kept.

It runs where ``pulumi up`` runs, not from the DNS provider's checkers: it does not read the
provider's own health status (Route 53 ``GetHealthCheckStatus``, the Cloudflare pool health), and a
firewall that admits only the provider's checkers would hold it until its timeout. HTTPS is not
certificate-checked (as Route 53's HTTPS checks). A gate is created once per location: an update
that keeps a location does not probe it again; a location closed and opened again gets a new gate.
``pulumi preview`` and ``edgefleet plan`` register the gate and never probe.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

TIMEOUT_SECONDS = 600.0  # how long an update waits for one location before it fails
REQUEST_SECONDS = 5.0  # one probe's timeout (Route 53 waits 4 s for a connection, 2 s for a reply)


class GateTimeout(RuntimeError):
    """A location did not pass its health check's request in time; the message says what it got."""


@dataclass(frozen=True)
class Probe:
    """What a gate asks: ``url`` with ``Host: host``, ``successes`` 2xx answers in a row, one every
    ``interval`` seconds, for at most ``timeout`` seconds."""

    url: str
    host: str
    successes: int
    interval: float
    timeout: float = TIMEOUT_SECONDS


def probe_url(protocol: str, target: str, port: int, path: str) -> str:
    """``http(s)://<target>:<port><path>``; an IPv6 address in brackets."""
    host = f"[{target}]" if ":" in target and not target.startswith("[") else target
    return f"{protocol.lower()}://{host}:{port}{path}"


def _answer(probe: Probe) -> str | None:
    """None for a 2xx answer, else what came back (a status or the error)."""
    request = urllib.request.Request(probe.url, headers={"Host": probe.host, "User-Agent": "edgefleet-health-gate"})
    context = ssl._create_unverified_context() if probe.url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS, context=context) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", None) or exc)
    return None if 200 <= status < 300 else f"HTTP {status}"


def wait_until_healthy(
    probe: Probe,
    *,
    ask: Callable[[Probe], str | None] = _answer,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Ask until ``probe.successes`` 2xx answers in a row; return how many requests it took.
    ``GateTimeout`` (naming the URL and the last answer) when ``probe.timeout`` runs out first."""
    deadline = clock() + probe.timeout
    streak = asked = 0
    last = "no answer yet"
    while True:
        problem = ask(probe)
        asked += 1
        if problem is None:
            streak += 1
            if streak >= probe.successes:
                return asked
        else:
            streak, last = 0, problem
        if clock() + probe.interval > deadline:
            raise GateTimeout(
                f"{probe.url} (Host: {probe.host}) did not answer 2xx {probe.successes} times in a row within "
                f"{probe.timeout:.0f} s (last: {last}); the closed locations are kept"
            )
        sleep(probe.interval)


def _probe(props: Mapping[str, Any]) -> Probe:
    return Probe(
        url=str(props["url"]),
        host=str(props["host"]),
        successes=int(props["successes"]),
        interval=float(props["interval"]),
        timeout=float(props.get("timeout", TIMEOUT_SECONDS)),
    )


class HealthGateProvider(ResourceProvider):
    """Create: wait until the location passes (``wait_until_healthy``). A new URL replaces the gate
    (a new endpoint waits again); other changes update it without waiting."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        probe = _probe(props)
        wait_until_healthy(probe)
        return CreateResult(id_=f"{probe.host}|{probe.url}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = sorted(k for k in set(olds) | set(news) if k != "__provider" and olds.get(k) != news.get(k))
        return DiffResult(
            changes=bool(changed), replaces=[k for k in changed if k == "url"], delete_before_replace=False
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)


class HealthGate(pulumi.dynamic.Resource):
    """Holds the update until the location at ``url`` passes (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        url: pulumi.Input[str],
        host: str,
        successes: int,
        interval: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"url": url, "host": host, "successes": successes, "interval": interval, "timeout": TIMEOUT_SECONDS}
        super().__init__(HealthGateProvider(), name, props, opts)
