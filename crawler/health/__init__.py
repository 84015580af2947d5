"""The bundled health service: the selectors server (``server``), one connection's sans-IO
protocol (``protocol``) and the client probe (``probe``)."""
