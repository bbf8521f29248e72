"""``edgefleet stacks sync``: slice stack files written, updated in place, and left alone when in sync."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgefleet.cli import app
from edgefleet.components.config import ConfigError, read_stack_file
from edgefleet.components.config.slices import load_sliced
from edgefleet.components.config.source import _parsed_fleet_file
from edgefleet.orchestrate import fleet_plan
from edgefleet.stacks import Change, GroupBy, sync
from tests.conftest import REPO

FLEET = "fleets/retail.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "fleets").mkdir()
    shutil.copy(REPO / FLEET, tmp_path / FLEET)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(project: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((project / "stacks").glob("Pulumi.*.yaml"))}


def test_sync_writes_one_file_per_region_group_and_a_global_slice(project: Path) -> None:
    report = sync(project, FLEET, prefix="retail")
    assert [(f.stack, f.change, f.clusters) for f in report.files] == [
        ("retail-asia", Change.CREATED, ("store-osaka-01",)),
        ("retail-europe", Change.CREATED, ("aws-eu-central-1", "store-berlin-01", "store-lyon-01")),
        ("retail-global", Change.CREATED, ()),
        ("retail-north-america", Change.CREATED, ("digitalocean-nyc3", "store-chicago-01", "store-toronto-01")),
    ]
    assert report.files[1].missing_secrets == ("edgefleet:storeBerlin01Kubeconfig", "edgefleet:storeLyon01Kubeconfig")
    text = (project / "stacks" / "Pulumi.retail-europe.yaml").read_text()
    assert text.endswith("config:\n  edgefleet:fleetFile: fleets/retail.yaml\n  edgefleet:slice: {regions: [europe]}\n")
    # The committed example slices are exactly what sync writes (plus the secrets set since).
    committed = (REPO / "stacks" / "Pulumi.retail-global.yaml").read_text()
    assert committed == (project / "stacks" / "Pulumi.retail-global.yaml").read_text()


def test_a_second_sync_changes_nothing(project: Path) -> None:
    sync(project, FLEET, prefix="retail")
    before = _files(project)
    report = sync(project, FLEET, prefix="retail")
    assert {f.change for f in report.files} == {Change.UNCHANGED}
    assert report.changed == []
    assert _files(project) == before


def test_sync_keeps_secrets_comments_and_other_keys_and_updates_only_its_own(project: Path) -> None:
    sync(project, FLEET, prefix="retail")
    europe = project / "stacks" / "Pulumi.retail-europe.yaml"
    europe.write_text(
        europe.read_text().replace("config:\n", "config:\n  # the operators' own note\n  aws:region: eu-central-1\n")
        + "  edgefleet:storeBerlin01Kubeconfig:\n    secure: v1:YmVybGlu\n"
    )
    # A hand edit of the slice is put back; everything else stays.
    europe.write_text(europe.read_text().replace("{regions: [europe]}", "{regions: [europe, asia]}"))
    report = sync(project, FLEET, prefix="retail", placements_file="placements/retail.json")
    changes = {f.stack: f.change for f in report.files}
    assert changes == dict.fromkeys(changes, Change.UPDATED)  # placementsFile is new in all four
    text = europe.read_text()
    assert "# the operators' own note" in text
    assert "aws:region: eu-central-1" in text
    assert "secure: v1:YmVybGlu" in text
    assert "edgefleet:slice: {regions: [europe]}" in text
    assert "edgefleet:placementsFile: placements/retail.json" in text
    europe_report = next(f for f in report.files if f.stack == "retail-europe")
    assert europe_report.missing_secrets == ("edgefleet:storeLyon01Kubeconfig",)
    assert {
        f.change for f in sync(project, FLEET, prefix="retail", placements_file="placements/retail.json").files
    } == {Change.UNCHANGED}


def test_written_slices_round_trip_through_the_loader(project: Path) -> None:
    sync(project, FLEET, prefix="retail")
    secrets = {
        "retail-asia": ["storeOsaka01Kubeconfig"],
        "retail-europe": ["storeBerlin01Kubeconfig", "storeLyon01Kubeconfig"],
        "retail-north-america": ["storeChicago01Kubeconfig", "storeToronto01Kubeconfig"],
    }
    for stack, keys in secrets.items():
        path = project / "stacks" / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text() + "".join(f"  edgefleet:{k}:\n    secure: v1:YQ==\n" for k in keys))
    deployed: list[str] = []
    for stack in [*secrets, "retail-global"]:
        _, scope = load_sliced(read_stack_file(project / "stacks" / f"Pulumi.{stack}.yaml", project), project)
        assert scope is not None
        deployed += scope.slice.clusters
    assert sorted(deployed) == sorted(
        [
            "aws-eu-central-1",
            "digitalocean-nyc3",
            "store-berlin-01",
            "store-chicago-01",
            "store-lyon-01",
            "store-osaka-01",
            "store-toronto-01",
        ]
    )


def test_by_cluster_and_stale_slices(project: Path) -> None:
    report = sync(project, FLEET, prefix="shop", by=GroupBy.CLUSTER)
    assert [f.stack for f in report.files] == [
        "shop-aws-eu-central-1",
        "shop-digitalocean-nyc3",
        "shop-global",
        "shop-store-berlin-01",
        "shop-store-chicago-01",
        "shop-store-lyon-01",
        "shop-store-osaka-01",
        "shop-store-toronto-01",
    ]
    # Osaka closes: its slice is reported stale and kept (its stack still holds resources).
    fleet = project / FLEET
    text = fleet.read_text()
    start = text.index("  - vendor: existing\n    name: store-osaka-01")
    end = text.index("traffic:")
    fleet.write_text(text[:start] + text[end:])
    report = sync(project, FLEET, prefix="shop", by=GroupBy.CLUSTER)
    stale = [f for f in report.files if f.change is Change.STALE]
    assert [f.stack for f in stale] == ["shop-store-osaka-01"]
    assert (project / "stacks" / "Pulumi.shop-store-osaka-01.yaml").is_file()


def test_a_stack_file_in_the_way_is_an_error_and_nothing_is_written(project: Path) -> None:
    (project / "stacks").mkdir()
    shutil.copy(REPO / "stacks" / "Pulumi.dev.yaml", project / "stacks" / "Pulumi.retail-europe.yaml")
    with pytest.raises(ConfigError, match="stack 'retail-europe' exists and holds its own fleet"):
        sync(project, FLEET, prefix="retail")
    assert sorted(p.name for p in (project / "stacks").iterdir()) == ["Pulumi.retail-europe.yaml"]


def test_the_cli_reports_changes_and_check_fails_when_out_of_sync(project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["stacks", "sync", FLEET, "--check"])
    assert result.exit_code == 1
    assert "4 of 4 slice file(s) would change" in result.output
    assert not (project / "stacks").exists()
    result = runner.invoke(app, ["stacks", "sync", FLEET])
    assert result.exit_code == 0, result.output
    assert "4 of 4 slice file(s) changed" in result.output
    assert "retail-asia: set edgefleet:storeOsaka01Kubeconfig with `pulumi config set --secret -s retail-asia" in (
        result.output
    )
    result = runner.invoke(app, ["stacks", "sync", FLEET, "--check"])
    assert result.exit_code == 0
    assert "0 of 4 slice file(s) would change" in result.output


def test_the_cli_refuses_a_fleet_file_outside_the_project(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "fleet.yaml"
    shutil.copy(REPO / FLEET, outside)
    result = CliRunner().invoke(app, ["stacks", "sync", str(outside)])
    assert result.exit_code == 2
    assert "the fleet file must be inside the project" in result.output


def test_stacks_export_writes_one_operator_stack_per_committed_slice(tmp_path: Path) -> None:
    out = tmp_path / "stacks.yaml"
    result = CliRunner().invoke(
        app,
        [
            "stacks",
            "export",
            str(REPO / FLEET),
            "--operator",
            "--repo",
            "https://github.com/acme/edge.git",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 Stack resource(s) written" in result.output
    text = out.read_text()
    assert text.count("kind: Stack\n") == 4
    assert "  prerequisites:\n  - name: retail-asia\n  - name: retail-europe\n  - name: retail-north-america\n" in text


def test_stacks_export_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    no_format = runner.invoke(app, ["stacks", "export", str(REPO / FLEET), "--repo", "https://github.com/a/b.git"])
    assert no_format.exit_code == 2
    assert "--operator" in no_format.output
    bad = runner.invoke(app, ["stacks", "export", str(REPO / FLEET), "--operator", "--repo", "ftp://x"])
    assert bad.exit_code == 2
    assert bad.output.startswith("stacks export: --repo:")
    # The message names the option the user typed, never the Python field behind it.
    slow = runner.invoke(
        app, ["stacks", "export", str(REPO / FLEET), "--operator", "--repo", "https://github.com/a/b.git",
              "--resync-seconds", "30"]
    )  # fmt: skip
    assert slow.exit_code == 2
    lines = slow.output.splitlines()
    assert lines[0].startswith("stacks export: --resync-seconds: 30 is below the operator's floor of 60")
    assert lines[-1] == "invalid: 1 error"
    env = runner.invoke(
        app, ["stacks", "export", str(REPO / FLEET), "--operator", "--repo", "https://github.com/a/b.git",
              "--environment", "a b"]
    )  # fmt: skip
    assert env.output.startswith("stacks export: --environment: ")


def test_the_committed_example_slices_are_in_sync_with_their_fleet_file() -> None:
    report = sync(REPO, FLEET, prefix="retail", write=False)
    assert [(f.stack, f.change, f.missing_secrets) for f in report.files] == [
        (stack, Change.UNCHANGED, ())
        for stack in ("retail-asia", "retail-europe", "retail-global", "retail-north-america")
    ]


def test_every_slice_of_a_big_fleet_reads_the_fleet_file_once(project: Path) -> None:
    report = sync(project, FLEET, prefix="shop", by=GroupBy.CLUSTER)
    for item in report.files:  # every slice gets its secrets, as `pulumi config set --secret` would
        item.path.write_text(
            item.path.read_text() + "".join(f"  {k}:\n    secure: v1:YQ==\n" for k in item.missing_secrets)
        )
    before = _parsed_fleet_file.cache_info()
    slices = fleet_plan(project, FLEET)  # validates 8 slices, each against the 7 others
    assert len(slices) == 8
    assert _parsed_fleet_file.cache_info().misses - before.misses <= 1
    # A changed fleet file is read again.
    (project / FLEET).write_text((project / FLEET).read_text() + "\n")
    fleet_plan(project, FLEET)
    assert _parsed_fleet_file.cache_info().misses - before.misses <= 2
