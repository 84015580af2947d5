"""Politeness decided once for every backend: robots.txt rules (``robots``) and the host-clock
reservation arithmetic (``host_clock``). Where the shared state lives is a backend's business."""
