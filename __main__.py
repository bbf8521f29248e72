"""edgefleet's Pulumi program: `pulumi up` here, or `edgefleet plan` offline. Same code."""

from pathlib import Path

from edgefleet.components.entry import build

build(Path(__file__).resolve().parent)
