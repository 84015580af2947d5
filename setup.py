"""The one build step setup.cfg cannot state: three hot loops in C.

* ``crawler/links/_hrefs.c``: a page's links without a tree (``crawler/links/extract.py``);
* ``crawler/links/_join.c``: a page's new hrefs of the common forms resolved
  (``crawler/links/urls.py``);
* ``crawler/backends/memory/_fingerprints.c``: the visited set's check-and-add of a page's
  links (``crawler/backends/memory/fingerprints.py``).

``optional``: without a C compiler the install still succeeds, and the crawler runs the same
work in Python and lexbor instead (same results, more CPU per page).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "crawler.links._hrefs",
            ["crawler/links/_hrefs.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "crawler.links._join",
            ["crawler/links/_join.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        Extension(
            "crawler.backends.memory._fingerprints",
            ["crawler/backends/memory/_fingerprints.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
