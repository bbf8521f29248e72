"""Real traffic as demand: a traffic file and a real Prometheus (Debian's ``prometheus`` package,
loaded with recorded samples by ``promtool tsdb create-blocks-from openmetrics``, started on the
loopback interface), and every kind of bad input: one line naming the file and line (or the query),
exit 2, nothing planned, no traceback.

Without the ``prometheus`` and ``promtool`` binaries the Prometheus tests are skipped, unless
``EDGEFLEET_REQUIRE_PROMETHEUS=1`` (CI), which makes them fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import chdir
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import traffic
from tests.conftest import user_project, wait_until_ready
from tests.test_placement_schedule import day_night_csv

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

STACK = """\
config:
  edgefleet:fleet:
    environment: test
    owner: platform-team
    clusters:
      - {vendor: existing, name: fra, location: {lat: 50.11, lon: 8.68, country: DE}}
      - {vendor: existing, name: nyc, location: {lat: 40.71, lon: -74.01, country: US}}
      - {vendor: existing, name: tyo, location: {lat: 35.69, lon: 139.69, country: JP}}
    workloads:
      - name: api
        image: ghcr.io/acme/api:1.0.0
        port: 8080
        replicas: 4
        placement:
          strategy: latency
          max_locations: 2
          demand: DEMAND
          schedule: SCHEDULE
"""


def stack(demand: str, schedule: str = "{window: 1h}") -> str:
    return STACK.replace("DEMAND", demand).replace("SCHEDULE", schedule)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    user_project(tmp_path, "traffic")
    with chdir(tmp_path):
        yield tmp_path


def _invalid(project: Path, args: list[str]) -> str:
    """Run a command that must refuse its input: exit 2, one error line and the summary, no
    traceback, and no output file written."""
    out_file = project / "out.json"
    result = runner.invoke(app, [*args, "--json", str(out_file)])
    output = result.output + (result.stderr or "")
    assert "Traceback" not in output
    assert result.exit_code == 2, output
    assert not out_file.exists()
    lines = result.stderr.rstrip("\n").split("\n")
    assert lines[-1] == "invalid: 1 error", result.stderr
    return lines[0]


def _traffic_case(project: Path, text: str | bytes, command: str = "place") -> str:
    path = project / "traffic" / "bad.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: traffic/bad.csv}"))
    args = ["place", "t", "--at", "2026-03-01T12:00:00Z"] if command == "place" else [command, "t"]
    return _invalid(project, args)


PREFIX = "fleet.workloads[0].placement.demand.traffic: traffic/bad.csv:"
GOOD_HEAD = "time,country,city,requests\n2026-03-01T00:00:00Z,DE,Berlin,100\n"

BAD_FILES = [
    ("unknown column", "time,country,browser,requests\n", 1, "unknown column 'browser'"),
    ("misaligned time", GOOD_HEAD + "2026-03-01T00:30:00Z,DE,Berlin,5\n", 3, "is not the start of a 60-minute window"),
    ("unknown country", GOOD_HEAD + "2026-03-01T01:00:00Z,XX,,5\n", 3, "unknown country 'XX'"),
    ("negative count", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,Berlin,-5\n", 3, "requests -5 is out of range"),
    ("NaN count", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,Berlin,nan\n", 3, "requests 'nan' is not a finite number"),
    ("infinite count", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,Berlin,inf\n", 3, "requests 'inf' is not a finite number"),
    ("text count", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,Berlin,many\n", 3, "requests 'many' is not a number"),
    ("bad time", GOOD_HEAD + "yesterday,DE,Berlin,5\n", 3, "'yesterday' is not an ISO 8601 time"),
    ("time without zone", GOOD_HEAD + "2026-03-01T01:00:00,DE,Berlin,5\n", 3, "has no time zone"),
    ("a date for a time", GOOD_HEAD + "2026-03-01,DE,Berlin,5\n", 3, "is a date; write the start of the window"),
    ("too few fields", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,5\n", 3, "3 fields, the header has 4"),
    ("unknown city", GOOD_HEAD + "2026-03-01T01:00:00Z,DE,Atlantis,5\n", 3, "no city named 'Atlantis' in DE"),
    ("off the map", "time,lat,lon,requests\n2026-03-01T00:00:00Z,95,10,5\n", 2, "is off the map"),
    ("lat without lon", "time,lat,requests\n", 1, "a `lat` column needs a `lon` column"),
    ("both kinds of place", "time,lat,lon,country,requests\n", 1, "not both"),
    ("no requests column", "time,country\n", 1, "no 'requests' column"),
    ("city without country", "time,city,requests\n", 1, "a `city` column needs a `country` column"),
    ("duplicate column", "time,country,country,requests\n", 1, "column 'country' appears twice"),
    ("empty file", "", 1, "is empty"),
    ("header only", "time,country,requests\n", 2, "has a header but no rows"),
    ("all zero", "time,country,requests\n2026-03-01T00:00:00Z,DE,0\n", 2, "every row counts 0 requests"),
    ("NUL bytes", "time,country,requests\n\x00\n", 1, "holds NUL characters"),
    ("broken quoting", 'time,country,requests\n2026-03-01T00:00:00Z,"DE,5\n', 2, "not valid CSV"),
]


@pytest.mark.parametrize(("case", "text", "line", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_bad_traffic_file_is_one_line_with_file_and_line(
    project: Path, case: str, text: str, line: int, message: str
) -> None:
    first = _traffic_case(project, text)
    assert first.startswith(f"{PREFIX}{line}: "), first
    assert message in first, first
    assert "stacks/Pulumi.t.yaml:" in first  # and where the config names the file


def test_plan_and_check_refuse_a_bad_traffic_file_too(project: Path) -> None:
    for command in ("plan", "check"):
        first = _traffic_case(project, "time,country,browser,requests\n", command)
        assert first.startswith(f"{PREFIX}1: unknown column 'browser'"), first


def test_a_traffic_file_outside_the_project_is_refused(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "t.csv"
    outside.write_text(day_night_csv())
    (project / "traffic" / "link.csv").symlink_to(outside)
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: traffic/link.csv}"))
    first = _invalid(project, ["place", "t", "--at", "2026-03-01T12:00:00Z"])
    assert first.startswith("fleet.workloads[0].placement.demand.traffic: traffic/link.csv is a symbolic link to")
    assert "outside the project" in first
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: /etc/passwd}"))
    first = _invalid(project, ["place", "t"])
    assert "must be a relative path inside the project" in first
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: traffic/missing.csv}"))
    assert "traffic/missing.csv not found in the project" in _invalid(project, ["place", "t"])


def test_a_huge_or_non_text_traffic_file_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traffic, "MAX_TRAFFIC_BYTES", 1000)
    traffic._cached.cache_clear()
    first = _traffic_case(project, day_night_csv())
    assert "traffic/bad.csv is larger than" in first
    assert "aggregate it to fewer rows" in first
    first = _traffic_case(project, b"time,country,requests\n\xff\xfe\n")
    assert "traffic/bad.csv is not UTF-8 text" in first


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_fifo_traffic_file_is_refused_without_blocking(project: Path) -> None:
    os.mkfifo(project / "traffic" / "pipe.csv")
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: traffic/pipe.csv}"))
    assert "traffic/pipe.csv is a named pipe (FIFO)" in _invalid(project, ["place", "t"])


CONFIG_CASES = [
    (
        "window not dividing the day",
        "{traffic: traffic/day.csv}",
        "{window: 7m}",
        "schedule.window: 7m does not divide",
    ),
    ("not a duration", "{traffic: traffic/day.csv}", "{window: 1d}", "schedule.window:"),
    ("usage without a volume", "{preset: world, diurnal: true}", "{min_usage_per_location: 5}", "set `demand.rate`"),
    ("rate with real traffic", "{traffic: traffic/day.csv, rate: 5}", "{window: 1h}", "demand.rate: `rate` gives"),
    ("diurnal real traffic", "{traffic: traffic/day.csv, diurnal: true}", "{window: 1h}", "demand.diurnal:"),
    ("two sources", "{traffic: traffic/day.csv, preset: world}", "{window: 1h}", "give one of `preset`, `points`"),
    ("bounds without per replica", "{traffic: traffic/day.csv}", "{max_replicas: 9}", "set `requests_per_replica`"),
    ("negative usage", "{traffic: traffic/day.csv}", "{min_usage_per_location: -1}", "min_usage_per_location"),
    ("a long dwell", "{traffic: traffic/day.csv}", "{min_dwell: 200h}", "longer than a week"),
    (
        "max below min replicas",
        "{traffic: traffic/day.csv}",
        "{requests_per_replica: 5, min_replicas: 3, max_replicas: 2}",
        "max_replicas (2) is smaller than min_replicas (3)",
    ),
]


@pytest.mark.parametrize(("case", "demand", "schedule", "message"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_schedule_settings_name_the_config_path(
    project: Path, case: str, demand: str, schedule: str, message: str
) -> None:
    (project / "traffic" / "day.csv").write_text(day_night_csv())
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack(demand, schedule))
    first = _invalid(project, ["place", "t"])
    assert first.startswith("fleet.workloads[0].placement."), first
    assert message in first, first
    assert "(stacks/Pulumi.t.yaml:" in first


def test_a_rate_on_a_demand_placed_once_is_refused(project: Path) -> None:
    text = stack("{preset: world, rate: 100}").replace("          schedule: SCHEDULE\n", "")
    (project / "stacks" / "Pulumi.t.yaml").write_text(text.replace("          schedule: {window: 1h}\n", ""))
    first = _invalid(project, ["place", "t"])
    assert first.startswith("fleet.workloads[0].placement.demand.rate: `rate` gives demand over the day its volume")


def test_a_schedule_needs_strategy_latency(project: Path) -> None:
    text = stack("{preset: world, diurnal: true}").replace("strategy: latency", "strategy: everywhere")
    (project / "stacks" / "Pulumi.t.yaml").write_text(text.replace("          max_locations: 2\n", ""))
    assert "placement over the day is for strategy `latency`" in _invalid(project, ["place", "t"])


def test_a_bad_at_is_one_line(project: Path) -> None:
    (project / "traffic" / "day.csv").write_text(day_night_csv())
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack("{traffic: traffic/day.csv}"))
    for command in ("place", "plan", "check"):
        first = _invalid(project, [command, "t", "--at", "tomorrow"])
        assert first == "--at tomorrow: 'tomorrow' is not an ISO 8601 time such as 2026-03-01T14:00:00Z"


# --- a real Prometheus ----------------------------------------------------------------------------------

DAY = datetime(2026, 3, 1, tzinfo=UTC)  # placed from the day before, 2026-02-28
CITIES = (("DE", "Berlin", 1), ("JP", "Tokyo", 9), ("US", "New York City", -5))
STEP = timedelta(minutes=5)


def awake_rate(offset: int, when: datetime) -> float:
    """Requests per second a city sends at ``when``: 1000 from 08:00 local time, 20 before."""
    return 1000.0 if (when.hour + offset) % 24 >= 8 else 20.0


def _openmetrics() -> str:
    """Counters sampled every 5 minutes over the day before ``DAY`` (and a window either side)."""
    lines = ["# TYPE http_requests counter"]
    totals = dict.fromkeys(CITIES, 0.0)
    t = DAY - timedelta(days=1, hours=1)
    while t <= DAY + timedelta(hours=1):
        for city in CITIES:
            totals[city] += awake_rate(city[2], t - STEP) * STEP.total_seconds()
            labels = f'country="{city[0]}",city="{city[1]}",path="/api"'
            lines.append(f"http_requests_total{{{labels}}} {totals[city]:.0f} {int(t.timestamp())}")
        t += STEP
    return "\n".join([*lines, "# EOF"]) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binaries = [shutil.which("prometheus"), shutil.which("promtool")]
    if None in binaries:
        if os.environ.get("EDGEFLEET_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus and promtool are required (apt-get install -y prometheus)")
        pytest.skip("prometheus/promtool not installed (Debian: apt-get install -y prometheus)")
    work = tmp_path_factory.mktemp("prometheus")
    (work / "samples.om").write_text(_openmetrics())
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(work / "samples.om"), str(work / "data")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (work / "prometheus.yml").write_text("global: {}\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_ready(server, url, work / "prometheus.log")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


GOOD_QUERY = "sum by (country, city) (rate(http_requests_total[1h]))"


def _prometheus_stack(project: Path, url: str, query: str) -> None:
    demand = json.dumps({"prometheus": {"url": url, "query": query}})
    (project / "stacks" / "Pulumi.t.yaml").write_text(stack(demand))


def test_placement_from_a_real_prometheus_follows_the_day_before(project: Path, prometheus: str) -> None:
    _prometheus_stack(project, prometheus, GOOD_QUERY)
    result = runner.invoke(
        app, ["place", "t", "--timeline", "--at", "2026-03-01T12:00:00Z", "--json", str(project / "tl.json")]
    )
    assert result.exit_code == 0, result.output + result.stderr
    doc = json.loads((project / "tl.json").read_text())
    for hour, window in enumerate(doc["windows"]):
        api = window["placements"][0]
        start = DAY + timedelta(hours=hour)
        # The same window of the day before, as Prometheus recorded it: rate() over exactly that hour.
        expected = sum(awake_rate(offset, start - timedelta(days=1)) for _, _, offset in CITIES)
        assert api["window"]["requests_per_second"] == pytest.approx(expected, rel=1e-6), hour
        assert api["window"]["demand"] == f"prometheus {prometheus}"
        usage = {u["cluster"]: u["requests_per_second"] for u in api["window"]["usage_rps"]}
        assert sum(usage.values()) == pytest.approx(expected, rel=1e-6)
    # 03:00 UTC: Tokyo (12:00) and New York (22:00) are awake, Berlin (04:00) asleep.
    at_three = {loc["cluster"] for loc in doc["windows"][3]["placements"][0]["locations"]}
    assert at_three == {"nyc", "tyo"}
    # 12:00 UTC: Berlin (13:00) and New York (07:00 -> asleep)... Tokyo (21:00) awake: fra and tyo.
    at_noon = {loc["cluster"] for loc in doc["windows"][12]["placements"][0]["locations"]}
    assert at_noon == {"fra", "tyo"}
    # The program asks the same Prometheus and plans the same window.
    plan = runner.invoke(app, ["plan", "t", "--at", "2026-03-01T03:00:00Z", "--json", str(project / "plan.json")])
    assert plan.exit_code == 0, plan.output + plan.stderr
    planned = json.loads((project / "plan.json").read_text())
    assert set(planned["outputs"]["placements"]["api"]) == {"nyc", "tyo"}


def test_a_query_with_the_wrong_labels_names_the_query(project: Path, prometheus: str) -> None:
    query = "rate(http_requests_total[1h])"  # keeps `path`: not one series per country
    _prometheus_stack(project, prometheus, query)
    first = _invalid(project, ["place", "t", "--at", "2026-03-01T12:00:00Z"])
    assert first.startswith(f"fleet.workloads[0].placement.demand.prometheus: query {query!r} returns a series")
    assert "path='/api'" in first
    assert "one series per `country`" in first
    query = "sum by (path) (rate(http_requests_total[1h]))"
    _prometheus_stack(project, prometheus, query)
    assert "it must return one series per `country`" in _invalid(project, ["place", "t", "--at", "2026-03-01T12:00Z"])


def test_a_bad_query_and_an_empty_answer_name_the_query(project: Path, prometheus: str) -> None:
    _prometheus_stack(project, prometheus, "sum by (country) (rate(http_requests_total[1h])")
    first = _invalid(project, ["place", "t", "--at", "2026-03-01T12:00:00Z"])
    assert "Prometheus answered bad_data" in first
    assert "query 'sum by (country) (rate(http_requests_total[1h])'" in first
    _prometheus_stack(project, prometheus, "sum by (country) (rate(no_such_metric[1h]))")
    assert "no series between 2026-02-28T01:00:00Z and 2026-03-01T00:00:00Z" in _invalid(
        project, ["place", "t", "--at", "2026-03-01T12:00:00Z"]
    )


def test_an_unreachable_prometheus_is_one_line(project: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    _prometheus_stack(project, url, GOOD_QUERY)
    first = _invalid(project, ["place", "t", "--at", "2026-03-01T12:00:00Z"])
    assert first.startswith(f"fleet.workloads[0].placement.demand.prometheus: query {GOOD_QUERY!r}: cannot reach")
    assert f"Prometheus at {url}" in first


def test_a_prometheus_address_with_credentials_is_refused_before_any_request(project: Path) -> None:
    url = "http://planner:s3cret@127.0.0.1:9"
    _prometheus_stack(project, url, GOOD_QUERY)
    first = _invalid(project, ["place", "t", "--at", "2026-03-01T12:00:00Z"])
    assert first.startswith("fleet.workloads[0].placement.demand.prometheus.url: the address holds a user or password")
    assert "s3cret" not in first


def test_too_many_distinct_places_is_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traffic, "MAX_PLACES", 3)
    traffic._cached.cache_clear()
    rows = "".join(f"2026-03-01T00:00:00Z,{10 + i},{20 + i},5\n" for i in range(5))
    first = _traffic_case(project, "time,lat,lon,requests\n" + rows)
    assert first.startswith(f"{PREFIX}5: more than 3 distinct places; aggregate the export by city"), first


def test_lat_lon_rows_and_the_cap_on_places(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "time,lat,lon,requests\n" + "".join(
        f"2026-03-01T00:00:00Z,{50 + i * 0.5},{10 + i * 0.5},{100 * (i + 1)}\n" for i in range(6)
    )
    series = traffic.parse_traffic(text, "ll.csv", 60)
    assert len(series.windows[0]) == 6
    assert series.rate(0) == pytest.approx(2100 / 3600)
    assert series.windows[1] == ()  # no rows in that window: no requests
    monkeypatch.setattr(traffic, "MAX_POINTS", 2)
    capped = traffic.parse_traffic(text, "ll.csv", 60)
    assert len(capped.windows[0]) == 2  # the two busiest places keep theirs...
    assert {(p.lat, p.lon) for p in capped.windows[0]} == {(52.5, 12.5), (52.0, 12.0)}
    assert capped.rate(0) == pytest.approx(series.rate(0))  # ...and nothing is lost
