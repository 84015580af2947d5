"""The processes strategy as a package: the strategy (``strategy``), the parent's dispatch loop
(``parent``), what runs in pool children (``child``, ``greenlet_child``), the records channel
(``channel``) and the manager process that hosts the shared state (``manager``)."""
