"""Where the doctor reads the probes: the agents themselves (two scrapes, a window apart) or a
Prometheus that scrapes them (``increase()`` over the window). Both give the same ``Evidence``."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from edgefleet.doctor.evidence import COUNTERS, INFO, RTT, DropCount, Evidence, build, deltas
from edgefleet.doctor.promtext import ExpositionError, Sample, parse

TIMEOUT = 5.0
HUBBLE_DROPS = "hubble_drop_total"  # Cilium's Hubble `drop` metric: labels reason, protocol
_PLAIN = re.compile(r"[^A-Za-z0-9_.:/ -]")


class Unreachable(Exception):
    """Nothing could be read (exit 3): the message says from where and why."""


class NoProbes(Exception):
    """Reachable, but no probe metrics there (exit 2): netcheck not installed, or wrong target."""


@dataclass(frozen=True)
class Scrape:
    samples: list[Sample]
    failed: tuple[str, ...]  # one line per target that could not be read
    by_url: tuple[list[Sample] | None, ...] = ()  # per URL in the order asked (None: not read)


def _fetch(url: str, timeout: float = TIMEOUT) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read(64 << 20)
    return body.decode("utf-8", errors="replace")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def scrape(urls: Sequence[str], fetch: Callable[[str], str] = _fetch, prefix: str = "netprobe_") -> Scrape:
    """Every agent's metrics, in parallel; an agent that cannot be read is named, not fatal."""

    def one(url: str) -> tuple[str, list[Sample] | None, str]:
        try:
            return url, parse(fetch(url), prefix=prefix), ""
        except (OSError, urllib.error.URLError, ExpositionError, ValueError) as exc:
            return url, None, _reason(exc)

    samples: list[Sample] = []
    failed = []
    by_url: list[list[Sample] | None] = []
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(urls)))) as pool:
        for url, found, reason in pool.map(one, urls):
            by_url.append(found)
            if found is None:
                failed.append(f"{url}: {reason}")
            else:
                samples += found
    return Scrape(samples, tuple(failed), tuple(by_url))


def _hubble_deltas(
    before: Scrape, after: Scrape, where: Mapping[str, tuple[str, str]], urls: Sequence[str]
) -> tuple[DropCount, ...]:
    """Hubble's drops per node and reason between two scrapes of the Cilium agents (a counter that
    went down was reset: its increase is its new value)."""
    found: dict[tuple[str, str, str], float] = {}
    for url, old_samples, new_samples in zip(urls, before.by_url, after.by_url, strict=True):
        if old_samples is None or new_samples is None:
            continue
        cluster, node = where[url]
        old = {s.labels: s.value for s in old_samples if s.name == HUBBLE_DROPS}
        for s in new_samples:
            if s.name != HUBBLE_DROPS or s.labels not in old or not math.isfinite(s.value):
                continue
            increase = s.value - old[s.labels] if s.value >= old[s.labels] else s.value
            reason = _PLAIN.sub("_", s.label("reason"))[:64] or "?"
            found[(cluster, node, reason)] = found.get((cluster, node, reason), 0.0) + increase
    drops = [DropCount(c, n, r, min(round(v), 10**15)) for (c, n, r), v in found.items() if v >= 0.5]
    return tuple(sorted(drops, key=lambda d: (d.cluster, d.node, -d.count, d.reason)))


def from_agents(
    urls: Sequence[str],
    window: float,
    *,
    fetch: Callable[[str], str] = _fetch,
    sleep: Callable[[float], None] = time.sleep,
    hubble: Mapping[str, tuple[str, str]] | None = None,
) -> Evidence:
    """Scrape every agent, wait ``window`` seconds, scrape again: the increases are the evidence.
    ``hubble``: Cilium agents' metrics URLs (-> cluster, node), scraped in the same two rounds
    for Hubble's drops (supporting evidence: one that does not answer is left out)."""
    if not urls:
        raise NoProbes("no probe agents to read")
    cilium = sorted(hubble or {})
    first = scrape(urls, fetch)
    first_hubble = scrape(cilium, fetch, prefix=HUBBLE_DROPS)
    if len(first.failed) == len(urls):
        raise Unreachable(f"no probe agent answered ({len(urls)} tried), e.g. {first.failed[0]}")
    sleep(window)
    second = scrape(urls, fetch)
    second_hubble = scrape(cilium, fetch, prefix=HUBBLE_DROPS)
    if len(second.failed) == len(urls):
        raise Unreachable(f"no probe agent answered the second scrape, e.g. {second.failed[0]}")
    problems = sorted(set(first.failed) | set(second.failed))
    if not any(s.name == INFO for s in second.samples):
        raise NoProbes("the targets answered but export no netprobe metrics: is netcheck installed there?")
    evidence = build(
        deltas(first.samples, second.samples),
        second.samples,
        window_seconds=window,
        problems=[f"could not read agent {p}" for p in problems],
    )
    if not cilium:
        return evidence
    return replace(evidence, drops=_hubble_deltas(first_hubble, second_hubble, hubble or {}, cilium))


def _query(base: str, query: str, fetch: Callable[[str], str]) -> list[Sample]:
    url = f"{base.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        raw = json.loads(fetch(url))
    except (OSError, urllib.error.URLError) as exc:
        raise Unreachable(f"Prometheus at {base} did not answer: {_reason(exc)}") from None
    except ValueError:
        raise Unreachable(f"{base} answered, but not as Prometheus's query API does (not JSON)") from None
    if not isinstance(raw, dict) or raw.get("status") != "success":
        error = raw.get("error", "unknown error") if isinstance(raw, dict) else "not a JSON object"
        raise Unreachable(f"Prometheus at {base} refused the query: {error}")
    out = []
    for item in raw.get("data", {}).get("result", []):
        metric = dict(item.get("metric", {}))
        name = metric.pop("__name__", "")
        try:
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        out.append(Sample(name, tuple(sorted(metric.items())), value))
    return out


def from_prometheus(
    base: str, window: float, *, fetch: Callable[[str], str] | None = None, match: str = ""
) -> Evidence:
    """The same evidence from a Prometheus that scrapes the agents: ``increase()`` of the
    counters over the last ``window`` seconds, the current RTT quantiles and agent info."""
    fetch = fetch or _fetch
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"--prometheus {base!r}: expected an http(s) URL such as http://127.0.0.1:9090")
    seconds = max(1, round(window))
    selector = "{" + match + "}" if match else ""
    increases: list[Sample] = []
    for name in COUNTERS:
        for sample in _query(base, f"increase({name}{selector}[{seconds}s])", fetch):
            increases.append(Sample(name, sample.labels, sample.value))
    current = [Sample(RTT, s.labels, s.value) for s in _query(base, f"{RTT}{selector}", fetch)]
    current += [Sample(INFO, s.labels, s.value) for s in _query(base, f"{INFO}{selector}", fetch)]
    if not current and not increases:
        raise NoProbes(f"Prometheus at {base} has no netprobe metrics: is netcheck installed and scraped?")
    evidence = build(increases, current, window_seconds=float(seconds))
    return replace(evidence, drops=hubble_drops(base, seconds, fetch))


def hubble_drops(base: str, seconds: int, fetch: Callable[[str], str]) -> tuple[DropCount, ...]:
    """Hubble's drops per node and reason over the window, where Cilium's Hubble exports its
    ``drop`` metrics to this Prometheus (none elsewhere: an empty answer). The node is the
    ``node`` label Cilium's ServiceMonitor sets from the agent pod's node (or one set the same way)."""
    query = f"sum by (cluster, node, reason) (increase({HUBBLE_DROPS}[{seconds}s]))"
    try:
        samples = _query(base, query, fetch)
    except Unreachable:
        return ()  # supporting evidence only: the verdict stands without it
    found = []
    for sample in samples:
        if not math.isfinite(sample.value) or sample.value < 0.5 or not sample.label("node"):
            continue
        # Labels are printed in a verdict: one short line of plain characters each.
        reason = _PLAIN.sub("_", sample.label("reason"))[:64] or "?"
        found.append(DropCount(sample.label("cluster"), sample.label("node"), reason, min(round(sample.value), 10**15)))
    return tuple(sorted(found, key=lambda d: (d.cluster, d.node, -d.count, d.reason)))
