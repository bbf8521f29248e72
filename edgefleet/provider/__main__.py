"""The component package's entry point (``PulumiPlugin.yaml``): serve edgefleet's components."""

from edgefleet.provider import serve

serve()
