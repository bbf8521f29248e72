"""edgefleet's command line and offline engine (``edgefleet validate|plan``)."""

__version__ = "0.1.0"
