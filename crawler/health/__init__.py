"""The bundled health service: the selectors server (``server``), one connection's sans-IO
protocol (``protocol``), the client probe (``probe``), and Prometheus metrics (``metrics``)."""
