"""The processes strategy as a package: the strategy (``strategy``), the parent's dispatch loop
(``parent``), its batch sizes (``batching``) and its watchdog (``watchdog``), the parent's
handle on each child process (``children``), what runs in the children (``child``,
``greenlet_child``), the records channel (``channel``) and the manager process that hosts the
shared state (``manager``)."""
