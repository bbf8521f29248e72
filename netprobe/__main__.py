"""``python -m netprobe --config FILE``: run the probe agent until SIGTERM."""

from netprobe.agent import main

main()
