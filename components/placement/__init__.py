"""Placement: geography, demand, latency and the solver. Pure Python: never imports ``pulumi``."""
