"""edgefleet as a Pulumi component package: ``pulumi package add`` generates an SDK for
TypeScript, Go, .NET, Java or YAML from the schema Pulumi's analyzer infers from the public
components' annotations (``edgefleet.components.index``).

``PulumiPlugin.yaml`` (repository root) names ``edgefleet/provider/__main__.py`` as the entry
point, which serves the components. ``schema.json`` beside this file is the inferred schema,
committed: ``make docs`` regenerates it, and a test fails when it drifts from the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi.provider.experimental import component_provider_host
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

from edgefleet import __version__
from edgefleet.components.index import COMPONENTS

NAME = "edgefleet"
SCHEMA_FILE = Path(__file__).resolve().parent / "schema.json"


def schema() -> dict[str, Any]:
    """The package schema the analyzer infers, as the provider serves it."""
    result = Analyzer(NAME).analyze(list(COMPONENTS))
    generated = generate_schema(
        NAME,
        __version__,
        None,
        result["component_definitions"],
        result["type_definitions"],
        sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}"),
    )
    out: dict[str, Any] = generated.to_json()
    return out


def schema_text() -> str:
    """``schema()`` as the committed file holds it (sorted keys, two-space indent)."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def serve() -> None:
    """Serve the components to the Pulumi engine (the plugin's entry point)."""
    component_provider_host(list(COMPONENTS), NAME, version=__version__)
