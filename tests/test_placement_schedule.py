"""Placement over time (``placement.schedule``, demand per window): each window's locations are that
window's optimum (brute force), dwell and minimum usage hold, the same ``--at`` gives the same plan,
and the timeline, plan and program agree."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import chdir
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from edgefleet import orchestrate
from edgefleet.cli import app
from edgefleet.components.config import read_stack_file
from edgefleet.components.config.parse import PlacementOptions
from edgefleet.components.config.previous import PLACEMENT_TIME_ENV
from edgefleet.components.config.slices import Slice, SliceSpec, load_sliced, schedule_window
from edgefleet.components.config.traffic import parse_traffic
from edgefleet.components.placement.demand import DemandPoint, preset
from edgefleet.components.placement.latency import distance_matrix
from edgefleet.components.placement.place import Site
from edgefleet.components.placement.timeline import (
    ACTIVITY,
    DemandSeries,
    ScheduleRules,
    Workload,
    activity,
    diurnal_series,
    schedule,
    window_index,
    window_start,
)
from edgefleet.components.placement.timeline import parse_time as ptime
from edgefleet.operator import OperatorOptions, operator_stacks
from tests.conftest import user_project

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

# Five sites on four continents, and cities whose users are awake at different UTC hours.
SITES = (
    Site("fra", "existing", 50.11, 8.68),
    Site("nyc", "existing", 40.71, -74.01),
    Site("sao", "existing", -23.55, -46.63),
    Site("sin", "existing", 1.29, 103.85),
    Site("tyo", "existing", 35.69, 139.69),
)
CITIES = (  # (country, city, UTC offset of local time, lat, lon)
    ("DE", "Berlin", 1, 52.52, 13.40),
    ("US", "New York City", -5, 40.71, -74.01),
    ("JP", "Tokyo", 9, 35.69, 139.69),
    ("BR", "São Paulo", -3, -23.55, -46.63),
    ("IN", "Mumbai", 5, 19.07, 72.88),
)


def day_night_csv(day: str = "2026-03-01", awake: float = 1000.0, asleep: float = 20.0) -> str:
    """A traffic file with a clear day/night pattern: each city busy from 08:00 to 23:59 local time."""
    rows = ["time,country,city,requests"]
    for hour in range(24):
        for country, city, offset, _, _ in CITIES:
            local = (hour + offset) % 24
            rate = awake if local >= 8 else asleep
            rows.append(f"{day}T{hour:02d}:00:00Z,{country},{city},{rate * 3600:.0f}")
    return "\n".join(rows) + "\n"


def brute_force(sites: tuple[Site, ...], points: tuple[DemandPoint, ...], k: int) -> tuple[str, ...]:
    """The k sites minimising the demand-weighted mean great-circle distance, by enumeration."""
    d = distance_matrix([(p.lat, p.lon) for p in points], [(s.lat, s.lon) for s in sites])
    w = np.array([p.weight for p in points])
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.combinations(range(len(sites)), k):
        cost = float(w @ d[:, list(combo)].min(axis=1))
        if best is None or cost < best[0] - 1e-9:
            best = (cost, combo)
    assert best is not None
    return tuple(sorted(sites[j].name for j in best[1]))


def workload(locations: int = 2, replicas: int = 6, min_locations: int = 1) -> Workload:
    return Workload(
        sites=SITES,
        locations=locations,
        min_locations=min_locations,
        min_vendors=1,
        must_include=(),
        replicas=replicas,
        min_replicas_per_location=1,
    )


# --- the pure schedule -------------------------------------------------------------------------------


def test_each_window_is_the_brute_force_optimum_of_its_demand() -> None:
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    rules = ScheduleRules(threshold=0.0)  # no stability, no dwell, no minimum usage: each window alone
    for k in (1, 2, 3):
        day = schedule(workload(locations=k), series, rules)
        assert len(day) == 24
        for w in day:
            assert w.placement.clusters == brute_force(SITES, series.windows[w.index], k), (k, w.index)
        # The pattern is visible: not every window has the same locations.
        assert len({w.placement.clusters for w in day}) > 1


def test_the_traffic_file_gives_requests_per_second_per_window() -> None:
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    # 00:00 UTC: Tokyo (09:00) and Mumbai (05:00 -> asleep), Berlin 01:00 asleep, NYC 19:00, Sao Paulo 21:00.
    by_label = {p.label: p.weight for p in series.windows[0]}
    assert by_label["Tokyo, JP"] == pytest.approx(1000.0)
    assert by_label["Berlin, DE"] == pytest.approx(20.0)
    assert by_label["New York City, US"] == pytest.approx(1000.0)
    assert series.rate(0) == pytest.approx(1000 * 3 + 20 * 2)


def test_a_multi_day_file_is_the_mean_day() -> None:
    text = day_night_csv("2026-03-01", awake=1000) + day_night_csv("2026-03-02", awake=3000).split("\n", 1)[1]
    series = parse_traffic(text, "two.csv", 60)
    assert {p.label: p.weight for p in series.windows[0]}["Tokyo, JP"] == pytest.approx(2000.0)


def test_min_dwell_keeps_an_opened_location_and_the_timeline_shows_it() -> None:
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    free = schedule(workload(locations=2), series, ScheduleRules(threshold=0.0))
    held = schedule(workload(locations=2), series, ScheduleRules(threshold=0.0, min_dwell_minutes=300))
    assert sum(len(w.opened) for w in held) < sum(len(w.opened) for w in free)
    assert any(w.kept_by_dwell for w in held)
    _assert_dwell(held, 300, 60)


def _assert_dwell(day: Any, dwell: int, window: int) -> None:
    n = len(day)
    for w in day:
        for name in w.opened:
            for j in range(w.index, min(n, w.index + -(-dwell // window))):
                assert name in day[j].placement.clusters, (name, w.index, j)


def test_min_usage_closes_quiet_locations_down_to_min_locations() -> None:
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    day = schedule(workload(locations=4, min_locations=2), series, ScheduleRules(threshold=0.0, min_usage_rps=500.0))
    counts = [len(w.placement.clusters) for w in day]
    assert min(counts) >= 2
    assert max(counts) <= 4
    assert min(counts) < max(counts)  # fewer locations when fewer users are awake
    for w in day:
        if len(w.placement.clusters) > 2:
            assert all(u >= 500.0 for u in w.usage_rps), (w.index, w.usage_rps)


def test_replicas_follow_the_volume_within_bounds() -> None:
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    rules = ScheduleRules(threshold=0.0, requests_per_replica=500.0, min_replicas=3, max_replicas=7)
    day = schedule(workload(locations=2, replicas=7), series, rules)
    totals = {sum(w.placement.replicas) for w in day}
    assert min(totals) >= 3
    assert max(totals) <= 7
    assert len(totals) > 1
    for w in day:
        expected = min(7, max(3, -(-round(w.requests_per_second, 6) // 500)))
        assert sum(w.placement.replicas) == max(expected, len(w.placement.clusters)), w.index


def _series(draw: Any) -> DemandSeries:
    windows: list[tuple[DemandPoint, ...]] = []
    for _ in range(12):
        weights = draw(st.lists(st.floats(0.0, 5000.0), min_size=len(CITIES), max_size=len(CITIES)))
        windows.append(
            tuple(
                DemandPoint(lat, lon, w, city)
                for (_, city, _, lat, lon), w in zip(CITIES, weights, strict=True)
                if w > 0
            )
        )
    assume(any(p.weight > 0 for points in windows for p in points))
    return DemandSeries(120, tuple(windows), "hypothesis")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_dwell_and_min_usage_hold_for_any_traffic(data: Any) -> None:
    series = _series(data.draw)
    locations = data.draw(st.integers(1, 4))
    least = data.draw(st.integers(1, locations))
    dwell = data.draw(st.sampled_from([0, 120, 240, 360]))
    usage = data.draw(st.sampled_from([0.0, 100.0, 1000.0, 4000.0]))
    rules = ScheduleRules(
        min_dwell_minutes=dwell, min_usage_rps=usage, threshold=data.draw(st.sampled_from([0.0, 0.05]))
    )
    day = schedule(workload(locations=locations, min_locations=least), series, rules)
    assert schedule(workload(locations=locations, min_locations=least), series, rules) == day  # deterministic
    _assert_dwell(day, dwell, 120)
    for w in day:
        names = w.placement.clusters
        assert least <= len(names) <= locations
        assert set(w.kept_by_dwell) <= set(names)
        assert sum(w.placement.replicas) == max(6, len(names))
        quiet = [n for n, u in zip(names, w.usage_rps, strict=True) if u < usage and n not in w.kept_by_dwell]
        if quiet:  # only at the floor: min_locations, or what dwell keeps
            assert len(names) == max(least, len(w.kept_by_dwell)), (w.index, names, w.usage_rps)


def test_diurnal_model_follows_local_time() -> None:
    assert max(ACTIVITY) == 1.0
    assert activity(np.array([21.0]))[0] == 1.0
    assert activity(np.array([24 + 4.5]))[0] == pytest.approx((ACTIVITY[4] + ACTIVITY[5]) / 2)
    series = diurnal_series(preset("world", 300), 60, 1000.0, "world")
    assert np.mean([series.rate(i) for i in range(24)]) == pytest.approx(1000.0)
    asia = [sum(p.weight for p in series.windows[i] if 60 < p.lon < 150) for i in range(24)]
    americas = [sum(p.weight for p in series.windows[i] if -130 < p.lon < -30) for i in range(24)]
    # Asia's evening (about 12:00-14:00 UTC) is the Americas' early morning, and the other way round.
    assert int(np.argmax(asia)) in range(10, 16)
    assert int(np.argmax(americas)) in range(0, 4) or int(np.argmax(americas)) == 23
    assert asia[13] / max(asia) > americas[13] / max(americas)


def test_windows_of_a_time() -> None:
    at = ptime("2026-03-01T14:59:59Z")
    assert window_start(at, 60).isoformat() == "2026-03-01T14:00:00+00:00"
    assert window_index(at, 60) == 14
    assert window_index(at, 15) == 59
    assert window_start(ptime("2026-03-01T16:30:00+02:00"), 60).isoformat() == "2026-03-01T14:00:00+00:00"


# --- through the CLI ---------------------------------------------------------------------------------

STACK = """\
config:
  edgefleet:fleet:
    environment: test
    owner: platform-team
    clusters:
      - {vendor: existing, name: fra, location: {lat: 50.11, lon: 8.68, country: DE}}
      - {vendor: existing, name: nyc, location: {lat: 40.71, lon: -74.01, country: US}}
      - {vendor: existing, name: sao, location: {lat: -23.55, lon: -46.63, country: BR}}
      - {vendor: existing, name: sin, location: {lat: 1.29, lon: 103.85, country: SG}}
      - {vendor: existing, name: tyo, location: {lat: 35.69, lon: 139.69, country: JP}}
    workloads:
      - name: api
        image: ghcr.io/acme/api:1.0.0
        port: 8080
        replicas: 6
        placement:
          strategy: latency
          max_locations: 2
          demand: {traffic: traffic/day.csv}
          schedule: {window: 1h, min_dwell: 1h}
      - name: static-site
        image: ghcr.io/acme/site:1.0.0
        port: 8080
        replicas: 2
        placement: {strategy: latency, max_locations: 1}
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    user_project(tmp_path, "traffic")
    (tmp_path / "traffic" / "day.csv").write_text(day_night_csv())
    (tmp_path / "stacks" / "Pulumi.t.yaml").write_text(STACK)
    with chdir(tmp_path):
        yield tmp_path


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    output = result.output + (result.stderr or "")
    assert result.exit_code == 0, output
    assert "Traceback" not in output
    return output


def test_timeline_windows_are_the_brute_force_optimum_and_match_place_at(project: Path) -> None:
    out = _ok(["place", "t", "--timeline", "--at", "2026-03-01T10:00:00Z", "--json", str(project / "tl.json")])
    assert "timeline of 2026-03-01 (UTC)" in out
    doc = json.loads((project / "tl.json").read_text())
    assert doc["format"] == "edgefleet.timeline/v1"
    assert [w["start"] for w in doc["windows"]] == [f"2026-03-01T{h:02d}:00:00Z" for h in range(24)]
    series = parse_traffic(day_night_csv(), "day.csv", 60)
    place_doc: dict[str, Any] = {}
    for i, window in enumerate(doc["windows"]):
        api = next(p for p in window["placements"] if p["workload"] == "api")
        chosen = tuple(sorted(loc["cluster"] for loc in api["locations"]))
        assert sum(loc["replicas"] for loc in api["locations"]) == 6
        # min_dwell 1h (one window) and the 5% threshold: a window keeps the previous locations only
        # when the optimum is less than 5% better, which the held_back entry then says.
        if "held_back" in api:
            assert tuple(api["held_back"]["candidate"]) == brute_force(SITES, series.windows[i], 2)
            assert api["held_back"]["gain"] <= 0.05
        else:
            assert chosen == brute_force(SITES, series.windows[i], 2), i
        if i in (3, 17):  # the same window through `place --at --json`: the same entry
            _ok(["place", "t", "--at", window["start"], "--json", str(project / "p.json")])
            place_doc = json.loads((project / "p.json").read_text())
            assert place_doc["placements"] == window["placements"]
        static = next(p for p in doc["static"][i]["placements"] if p["workload"] == "api")
        assert (
            static["metrics"]["mean_rtt_ms"] >= api["metrics"]["mean_rtt_ms"] - 0.05 * static["metrics"]["mean_rtt_ms"]
        )
    # The static workload is the same in every window.
    sites = {json.dumps(next(p for p in w["placements"] if p["workload"] == "static-site")) for w in doc["windows"]}
    assert len(sites) == 1


def test_plans_with_the_same_at_are_byte_identical_and_record_the_window(project: Path) -> None:
    first, second, other = project / "a.json", project / "b.json", project / "c.json"
    out = _ok(["plan", "t", "--at", "2026-03-01T03:10:00Z", "--json", str(first)])
    assert "placement window: 2026-03-01T03:00:00Z (60 min), for --at 2026-03-01T03:10:00Z" in out
    _ok(["plan", "t", "--at", "2026-03-01T03:59:59Z", "--json", str(second)])
    assert first.read_bytes() != b""
    _ok(["plan", "t", "--at", "2026-03-01T03:10:00Z", "--json", str(second)])
    assert first.read_bytes() == second.read_bytes()
    _ok(["plan", "t", "--at", "2026-03-01T15:00:00Z", "--json", str(other)])
    plan_a, plan_c = json.loads(first.read_text()), json.loads(other.read_text())
    api_a = next(p for p in plan_a["placements"] if p["workload"] == "api")
    api_c = next(p for p in plan_c["placements"] if p["workload"] == "api")
    assert api_a["locations"] != api_c["locations"]
    # The program placed the same window: its exported placements and windows agree with the plan.
    assert plan_a["outputs"]["placements"]["api"] == {loc["cluster"]: loc["replicas"] for loc in api_a["locations"]}
    assert plan_a["outputs"]["placementWindows"]["api"] == {
        "start": "2026-03-01T03:00:00Z",
        "end": "2026-03-01T04:00:00Z",
    }
    deployed = {
        r["name"].removeprefix("api-")
        for r in plan_a["resources"]
        if r["type"] == "edgefleet:index:EdgeWorkload" and r["name"].startswith("api-")
    }
    assert deployed == {loc["cluster"] for loc in api_a["locations"]}


def test_without_at_the_output_says_it_is_the_current_time(project: Path) -> None:
    out = _ok(["place", "t"])
    assert "for the current UTC time" in out
    assert "choose another with --at" in out


def test_a_stack_records_its_window_with_placement_time(project: Path) -> None:
    stack = project / "stacks" / "Pulumi.t.yaml"
    stack.write_text(STACK + "  edgefleet:placementTime: 2026-03-01T15:00:00Z\n")
    out = _ok(["place", "t", "--json", str(project / "r.json")])
    assert "for edgefleet:placementTime 2026-03-01T15:00:00Z" in out
    _ok(["place", "t", "--at", "2026-03-01T15:00:00Z", "--json", str(project / "s.json")])
    assert (project / "r.json").read_bytes() == (project / "s.json").read_bytes()


def test_a_move_is_shown_as_create_wait_remove(project: Path) -> None:
    _ok(["place", "t", "--timeline", "--at", "2026-03-01T00:00:00Z", "--json", str(project / "tl.json")])
    doc = json.loads((project / "tl.json").read_text())
    moves = []
    for window in doc["windows"]:
        api = next(p for p in window["placements"] if p["workload"] == "api")
        entry = api["window"]
        before, now = set(entry["previous"]), {loc["cluster"] for loc in api["locations"]}
        actions = [m["action"] for m in entry["moves"]]
        if now - before:
            assert actions[:2] == ["create", "wait"]
            assert set(entry["moves"][0]["clusters"]) == now - before
            assert entry["moves"][1]["until"] == ["deployments-ready", "dns-health-check"]
        if before - now:
            assert actions[-1] == "remove"
            assert set(entry["moves"][-1]["clusters"]) == before - now
        moves.append(actions)
    assert ["create", "wait", "remove"] in moves


def test_place_without_a_schedule_is_unchanged_by_at(project: Path) -> None:
    stack = project / "stacks" / "Pulumi.t.yaml"
    timed_lines = "          demand: {traffic: traffic/day.csv}\n          schedule: {window: 1h, min_dwell: 1h}\n"
    stack.write_text(STACK.replace(timed_lines, ""))
    plain = _ok(["place", "t", "--json", str(project / "a.json")])
    timed = _ok(["place", "t", "--at", "2026-03-01T15:00:00Z", "--json", str(project / "b.json")])
    assert plain.replace("a.json", "b.json") == timed
    assert "placement window" not in plain
    assert (project / "a.json").read_bytes() == (project / "b.json").read_bytes()
    # Its timeline: every hour of the day, each with the one placement.
    out = _ok(["place", "t", "--timeline", "--at", "2026-03-01T15:00:00Z", "--json", str(project / "t.json")])
    assert "no workload is placed per window" in out
    doc = json.loads((project / "t.json").read_text())
    placed = json.loads((project / "a.json").read_text())["placements"]
    assert [w["start"] for w in doc["windows"]] == [f"2026-03-01T{h:02d}:00:00Z" for h in range(24)]
    assert all(w["placements"] == placed for w in doc["windows"] + doc["static"])


def test_the_operator_resyncs_a_scheduled_fleet_every_window(project: Path) -> None:

    spec, _ = _load(project)
    assert schedule_window(spec) == 60
    plain = spec.model_copy(
        update={
            "workloads": tuple(w for w in spec.workloads if w.day is None and w.latency and w.latency.window is None)
        }
    )
    assert schedule_window(plain) is None

    def stacks(window: int | None, resync: int) -> dict[str, Any]:
        one = Slice("t-eu", "stacks/Pulumi.t-eu.yaml", SliceSpec(clusters=("fra",)), ("fra",), window_minutes=window)
        options = OperatorOptions(repo="https://github.com/acme/edge.git", resync_seconds=resync)
        return operator_stacks("t", [one], options)[0]["spec"]

    assert stacks(60, 7200)["resyncFrequencySeconds"] == 3600  # follows the window
    assert stacks(60, 600)["resyncFrequencySeconds"] == 600  # never slower than asked
    assert stacks(60, 7200)["continueResyncOnCommitMatch"] is True  # a new window needs no new commit
    assert stacks(None, 7200)["resyncFrequencySeconds"] == 7200
    assert stacks(None, 7200)["continueResyncOnCommitMatch"] is False


def _load(project: Path) -> tuple[Any, Any]:

    source = read_stack_file(project / "stacks" / "Pulumi.t.yaml", project)
    return load_sliced(source, project, PlacementOptions(at=ptime("2026-03-01T00:00:00Z")))


# --- the traffic reader: any valid file, in any row order, is the same series ------------------------

PLACES = (("DE", "Berlin"), ("JP", "Tokyo"), ("US", ""), ("BR", "São Paulo"))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 23), st.sampled_from(PLACES), st.integers(0, 10**9)),
        min_size=1,
        max_size=40,
    ).filter(lambda rows: any(r[2] > 0 for r in rows)),
    seed=st.randoms(use_true_random=False),
)
def test_a_traffic_file_keeps_every_request_whatever_the_row_order(rows: list[Any], seed: Any) -> None:
    lines = [f"2026-03-01T{h:02d}:00:00Z,{country},{city},{n}" for h, (country, city), n in rows]
    series = parse_traffic("time,country,city,requests\n" + "\n".join(lines) + "\n", "t.csv", 60)
    for hour in range(24):
        expected = sum(n for h, _, n in rows if h == hour) / 3600
        assert series.rate(hour) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    seed.shuffle(lines)
    shuffled = parse_traffic("time,country,city,requests\r\n" + "\r\n".join(lines), "t.csv", 60)
    assert shuffled == series


def test_a_country_row_is_split_over_its_cities_without_losing_a_request() -> None:
    """Found by the property above: a country's requests spread over its cities by population
    must add up to exactly the row's (rounding each city's share alone lost a few millionths)."""
    text = "time,country,city,requests\n" + "2026-03-01T00:00:00Z,US,,4\n" * 4 + "2026-03-01T01:00:00Z,BR,,7\n"
    series = parse_traffic(text, "t.csv", 60)
    assert series.rate(0) == pytest.approx(16 / 3600, rel=1e-12)  # float sums of exact integer parts
    assert series.rate(1) == pytest.approx(7 / 3600, rel=1e-12)
    assert len(series.windows[0]) == 10  # the ten most populous US cities


def test_check_and_validate_place_the_same_window(project: Path) -> None:
    result = runner.invoke(app, ["check", "t", "--at", "2026-03-01T03:10:00Z", "--json", str(project / "c.json")])
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert result.exit_code in (0, 1), output
    assert "placement window: 2026-03-01T03:00:00Z (60 min), for --at 2026-03-01T03:10:00Z" in result.stderr
    assert json.loads((project / "c.json").read_text())["rules"]
    _ok(["validate", "t"])


def test_replicas_following_the_volume_through_the_cli(project: Path) -> None:
    stack = project / "stacks" / "Pulumi.t.yaml"
    stack.write_text(
        STACK.replace(
            "schedule: {window: 1h, min_dwell: 1h}",
            "schedule: {window: 1h, requests_per_replica: 400, min_replicas: 2, max_replicas: 12}",
        )
    )
    _ok(["place", "t", "--timeline", "--at", "2026-03-01T00:00:00Z", "--json", str(project / "tl.json")])
    doc = json.loads((project / "tl.json").read_text())
    totals = []
    for window in doc["windows"]:
        api = next(p for p in window["placements"] if p["workload"] == "api")
        total = sum(loc["replicas"] for loc in api["locations"])
        rate = api["window"]["requests_per_second"]
        assert total == max(len(api["locations"]), min(12, max(2, -(-round(rate) // 400)))), rate
        totals.append(total)
    assert len(set(totals)) > 1
    out = _ok(["place", "t", "--at", "2026-03-01T00:00:00Z"])
    first = doc["windows"][0]["placements"][0]
    assert f"api: latency, {sum(loc['replicas'] for loc in first['locations'])} replicas" in out


# --- one window for a whole run: EDGEFLEET_PLACEMENT_TIME -----------------------------------------------


def test_the_environment_pins_the_window_for_cli_and_program(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PLACEMENT_TIME_ENV, "2026-03-01T15:30:00Z")
    out = _ok(["plan", "t", "--json", str(project / "env.json")])
    assert f"for {PLACEMENT_TIME_ENV} 2026-03-01T15:30:00Z" in out
    plan = json.loads((project / "env.json").read_text())
    assert plan["outputs"]["placementWindows"]["api"]["start"] == "2026-03-01T15:00:00Z"
    _ok(["plan", "t", "--at", "2026-03-01T15:30:00Z", "--json", str(project / "at.json")])
    assert (project / "env.json").read_bytes() == (project / "at.json").read_bytes()
    # --at and the stack's own edgefleet:placementTime come first.
    _ok(["plan", "t", "--at", "2026-03-01T03:00:00Z", "--json", str(project / "at3.json")])
    at3 = json.loads((project / "at3.json").read_text())
    assert at3["outputs"]["placementWindows"]["api"]["start"] == "2026-03-01T03:00:00Z"
    monkeypatch.setenv(PLACEMENT_TIME_ENV, "soon")
    result = runner.invoke(app, ["place", "t"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"environment variable {PLACEMENT_TIME_ENV}: 'soon' is not an ISO 8601 time")


SLICED_FLEET = """\
environment: test
owner: platform-team
clusters:
  - {vendor: existing, name: fra, location: {lat: 50.11, lon: 8.68, country: DE}, kubeconfig: fraKubeconfig}
  - {vendor: existing, name: nyc, location: {lat: 40.71, lon: -74.01, country: US}, kubeconfig: nycKubeconfig}
workloads:
  - name: api
    image: ghcr.io/acme/api:1.0.0
    port: 8080
    replicas: 2
    placement: {strategy: latency, max_locations: 1, demand: {traffic: traffic/day.csv}}
"""


class _Recorder:
    """Stands in for the Automation API: records each stack's workspace environment."""

    def __init__(self) -> None:
        self.env: dict[str, dict[str, str]] = {}

    def create_or_select_stack(self, stack_name: str, work_dir: str | None = None, opts: Any = None) -> Any:
        self.env[stack_name] = dict(getattr(opts, "env_vars", None) or {})
        return _Stack()


class _Stack:
    def outputs(self) -> dict[str, Any]:
        return {}  # a new stack

    def up(self, **_: Any) -> Any:
        summary = type("Summary", (), {"resource_changes": {"same": 1}})()
        return type("UpResult", (), {"summary": summary})()


def test_up_pins_one_window_for_every_slice(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "fleets").mkdir()
    (project / "fleets" / "f.yaml").write_text(SLICED_FLEET)
    for name, cluster in (("f-eu", "fra"), ("f-us", "nyc")):
        key = f"{cluster}Kubeconfig"
        (project / "stacks" / f"Pulumi.{name}.yaml").write_text(
            f"config:\n  edgefleet:fleetFile: fleets/f.yaml\n  edgefleet:slice: {{clusters: [{cluster}]}}\n"
            f"  edgefleet:{key}:\n    secure: v1:abc\n"
        )
    recorder = _Recorder()
    monkeypatch.setattr(orchestrate.auto, "create_or_select_stack", recorder.create_or_select_stack)
    monkeypatch.setattr(orchestrate.shutil, "which", lambda name: f"/usr/local/bin/{name}")
    result = runner.invoke(
        app, ["up", "fleets/f.yaml", "--at", "2026-03-01T07:45:00Z", "--logs", str(project / "logs")]
    )
    output = result.output + (result.stderr or "")
    assert result.exit_code == 0, output
    assert "placement window for every slice: 2026-03-01T07:00:00Z (60 min), for --at 2026-03-01T07:45:00Z" in output
    assert recorder.env == {
        "f-eu": {PLACEMENT_TIME_ENV: "2026-03-01T07:45:00Z"},
        "f-us": {PLACEMENT_TIME_ENV: "2026-03-01T07:45:00Z"},
    }


def test_diurnal_points_follow_the_evening_around_the_world(project: Path) -> None:
    demand = (
        "demand: {diurnal: true, rate: 1000, points: [{city: Tokyo, country: JP}, {city: New York City, country: US}]}"
    )
    text = STACK.replace("demand: {traffic: traffic/day.csv}", demand).replace("max_locations: 2", "max_locations: 1")
    (project / "stacks" / "Pulumi.t.yaml").write_text(text.replace("min_dwell: 1h", "min_usage_per_location: 1"))
    _ok(["place", "t", "--timeline", "--at", "2026-03-01T00:00:00Z", "--json", str(project / "tl.json")])
    doc = json.loads((project / "tl.json").read_text())

    def where(hour: int) -> list[str]:
        api = next(p for p in doc["windows"][hour]["placements"] if p["workload"] == "api")
        assert api["window"]["demand"] == "points, diurnal"
        return [loc["cluster"] for loc in api["locations"]]

    # 12:00 UTC: 21:00 in Tokyo (the evening peak), 07:00 in New York; 01:00 UTC: 20:00 in New York,
    # 10:00 in Tokyo. Solar time, so New York's clock is about 5 h behind UTC, Tokyo's 9 h ahead.
    assert where(12) == ["tyo"]
    assert where(1) == ["nyc"]
    rates = [
        next(p for p in w["placements"] if p["workload"] == "api")["window"]["requests_per_second"]
        for w in doc["windows"]
    ]
    assert sum(rates) / 24 == pytest.approx(1000.0, rel=1e-3)


STEERED_FLEET = """\
environment: test
owner: platform-team
defaults:
  cni: {plugin: cilium, installed: true}
clusters:
  - {vendor: existing, name: fra, location: {lat: 50.11, lon: 8.68, country: DE}, kubeconfig: fraKubeconfig}
  - {vendor: existing, name: nyc, location: {lat: 40.71, lon: -74.01, country: US}, kubeconfig: nycKubeconfig}
  - {vendor: existing, name: sao, location: {lat: -23.55, lon: -46.63, country: BR}, kubeconfig: saoKubeconfig}
  - {vendor: existing, name: sin, location: {lat: 1.29, lon: 103.85, country: SG}, kubeconfig: sinKubeconfig}
  - {vendor: existing, name: tyo, location: {lat: 35.69, lon: 139.69, country: JP}, kubeconfig: tyoKubeconfig}
traffic: {provider: route53, zone: edge.example.com, zone_id: Z0123456789ABCDEFGHIJ}
workloads:
  - name: api
    image: ghcr.io/acme/api:1.0.0
    port: 8080
    replicas: 6
    expose: public
    probe_path: /healthz
    placement:
      strategy: latency
      min_locations: 2
      max_locations: 2
      demand: {traffic: traffic/day.csv}
      schedule: {window: 1h, min_dwell: 1h}
"""
SECRETS = "".join(f"  edgefleet:{c}Kubeconfig:\n    secure: v1:abc\n" for c in ("fra", "nyc", "sao", "sin", "tyo"))


def _edge_workloads(stack: str, at: str, project: Path) -> tuple[set[str], set[str]]:
    """(the clusters the stack's program deploys `api` to, the clusters its DNS records steer to)."""
    out = project / f"{stack}.json"
    _ok(["plan", stack, "--at", at, "--json", str(out)])
    plan = json.loads(out.read_text())
    deployed = {
        r["name"].removeprefix("api-").removesuffix("-deployment")
        for r in plan["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment" and r["inputs"]["metadata"]["namespace"] == "api"
    }
    steered = {record["cluster"] for d in plan["dns"] for record in d["records"]}
    return deployed, steered


def test_a_sliced_fleet_keeps_closed_locations_until_dns_has_moved(project: Path) -> None:
    """A regional slice deploys the window's locations and keeps the window before's closed ones
    (the global slice, which runs after it, moves DNS off them; the next window's run removes them).
    A fleet deployed by one stack removes them in the same update, after the creates."""
    (project / "fleets").mkdir()
    (project / "fleets" / "f.yaml").write_text(STEERED_FLEET)
    stacks = project / "stacks"
    (stacks / "Pulumi.f-all.yaml").write_text(
        "config:\n  edgefleet:fleetFile: fleets/f.yaml\n  edgefleet:slice: {clusters: [fra, nyc, sao, sin, tyo]}\n"
        + SECRETS
    )
    (stacks / "Pulumi.f-global.yaml").write_text(
        "config:\n  edgefleet:fleetFile: fleets/f.yaml\n  edgefleet:slice: {global: true}\n"
    )
    _ok(["place", "f-all", "--timeline", "--at", "2026-03-01T00:00:00Z", "--json", str(project / "tl.json")])
    windows = json.loads((project / "tl.json").read_text())["windows"]
    moved = []
    for window in windows:
        api = next(p for p in window["placements"] if p["workload"] == "api")
        now = {loc["cluster"] for loc in api["locations"]}
        closed = set(api["window"]["previous"]) - now
        if closed:
            moved.append((window["start"], now, closed))
    assert moved, "the day/night traffic moves the workload at least once"
    for start, now, closed in moved[:2]:
        deployed, steered = _edge_workloads("f-all", start, project)
        assert deployed == now | closed  # the closed ones are kept for this window...
        assert steered == set()  # ...and the regional slice steers nothing
        deployed, steered = _edge_workloads("f-global", start, project)
        assert deployed == set()
        assert steered == now  # DNS moves to the window's locations only
    # One stack for the whole fleet: the window's locations only (the engine deletes the closed
    # ones at the end of the same update, after the creates).
    (stacks / "Pulumi.whole.yaml").write_text(
        "config:\n  edgefleet:fleet:\n" + "".join(f"    {line}\n" for line in STEERED_FLEET.splitlines()) + SECRETS
    )
    for stack in ("f-all", "f-global"):
        (stacks / f"Pulumi.{stack}.yaml").unlink()
    start, now, _ = moved[0]
    deployed, steered = _edge_workloads("whole", start, project)
    assert deployed == now
    assert steered == now
