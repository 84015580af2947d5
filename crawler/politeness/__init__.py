"""Politeness decided once for every backend: robots.txt rules (``robots``), per-host timing and
concurrency (``schedule``) and the order hosts are served in (``ready``). Where the shared state
lives is a backend's business."""
