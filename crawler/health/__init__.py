"""The bundled health service: the selectors server (``server``), its open connections
(``clients``), its ``STATS`` reply (``stats``), one connection's sans-IO protocol
(``protocol``), the client probe (``probe``), and Prometheus metrics (``metrics``)."""
