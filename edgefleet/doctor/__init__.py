"""``edgefleet doctor``: where packets are lost (physical, virtual or Kubernetes layer); docs/doctor.md.

- ``promtext``: the Prometheus text format, parsed.
- ``evidence``: probe streams and node counters over a window (from two scrapes or from Prometheus).
- ``attribution``: which component explains the loss, with what confidence (pure functions).
- ``report``: the verdicts as text and as ``edgefleet.doctor/v1`` JSON, and the RTT matrix.
- ``collect``: read the agents directly, or a Prometheus that scrapes them.
- ``lab``: a real network in Linux namespaces to rehearse on (``edgefleet lab``).
"""
