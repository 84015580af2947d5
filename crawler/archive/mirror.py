"""Where a saved page goes under ``--save-dir``: a wget-like layout, as a pure function.

``http://example.com:8080/a/b?q=1`` -> ``example.com:8080/a/b?q=1``; ``http://example.com/`` ->
``example.com/index.html``; ``/docs/`` -> ``docs/index.html``. The port is kept when it is not
the scheme's default; http and https of one host share its directory, as with wget.

Every component is made safe here, before the file system sees it: characters outside a
conservative set (letters, digits, ``-._~!$&'()+,;=@%``) are percent-encoded byte by byte, so
no component holds ``/``, ``\\``, NUL, control characters or what other systems reserve
(``<>:"|*``); ``.`` and ``..`` become ``%2E`` and ``%2E%2E``; empty segments (``a//b``) are
dropped; a component over 255 bytes keeps its first 238 and ends in ``~`` plus 16 hex digits
of its SHA-1, so long names stay distinct. The query is kept after a ``?``, itself made safe.
What this cannot decide (a name already taken, a symlink in the way) is ``save.py``'s job.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

NAME_MAX = 255
_KEEP = 238  # NAME_MAX - len("~") - 16 hex digits
_UNSAFE = re.compile(rb"[^A-Za-z0-9\-._~!$&'()+,;=@%]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
INDEX = "index.html"


def mirror_parts(url: str) -> list[str]:
    """The path of ``url``'s file under the save directory, as safe components: the host
    (``host`` or ``host:port``), the directories, then the file name."""
    parts = urlsplit(url)
    host = safe_component(parts.hostname or "unknown-host")
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host += f":{parts.port}"
    segments = [s for s in parts.path.split("/") if s]
    directory_url = not segments or parts.path.endswith("/")
    names = [safe_component(s) for s in segments]
    if directory_url:
        names.append(INDEX)
    if parts.query:
        names[-1] = cap(names[-1] + "?" + _encode(parts.query))
    return [host, *names]


def safe_component(text: str) -> str:
    """``text`` as one safe path component (see the module docstring)."""
    name = _encode(text)
    if name in ("", ".", ".."):
        name = name.replace(".", "%2E") or "%20"
    return cap(name)


def cap(name: str, suffix: str = "") -> str:
    """``name`` (ASCII) + ``suffix`` in at most ``NAME_MAX`` bytes: past it, the end of
    ``name`` is replaced by ``~`` and a hash of the whole name."""
    if len(name) + len(suffix) <= NAME_MAX:
        return name + suffix
    keep = _KEEP - len(suffix)
    return name[:keep] + "~" + hashlib.sha1(name.encode()).hexdigest()[:16] + suffix


def _encode(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")
    return _UNSAFE.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii")
