"""The one build step setup.cfg cannot state: the link scanner in C (crawler/links/_hrefs.c).

``optional``: without a C compiler the install still succeeds, and the crawler parses every
page with lexbor instead (crawler/links/extract.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "crawler.links._hrefs",
            ["crawler/links/_hrefs.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
