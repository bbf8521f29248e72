"""``python -m netprobe --config FILE``: run the probe agent until SIGTERM."""

from .agent import main

main()
