"""Pure kubeconfig helpers (no engine, no I/O)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


def api_server(kubeconfig: str, context: str | None = None) -> str:
    """The API server URL of ``context`` (default: the current context), or '' if the text is not
    a kubeconfig with that context. The provider reports the real problem at deploy time."""
    try:
        doc: Any = YAML(typ="safe", pure=True).load(kubeconfig)
    except YAMLError:
        return ""
    if not isinstance(doc, dict):
        return ""
    wanted = context or doc.get("current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in doc.get("contexts") or [] if isinstance(c, dict)}
    clusters = {c.get("name"): c.get("cluster") or {} for c in doc.get("clusters") or [] if isinstance(c, dict)}
    ctx = contexts.get(wanted)
    if not isinstance(ctx, dict):
        return ""
    cluster = clusters.get(ctx.get("cluster"))
    server = cluster.get("server") if isinstance(cluster, dict) else None
    return server if isinstance(server, str) else ""
