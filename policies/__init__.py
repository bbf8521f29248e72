"""edgefleet's CrossGuard policy pack.

The rules live in ``policies/rules/`` (importable, one module per domain, explicit lists). The
``PolicyPack`` object is built only in ``policies/__main__.py``: constructing it starts a gRPC
server that never returns, so nothing a test or the CLI imports may build it.
"""
