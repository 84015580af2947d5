"""Links: URL normal forms and fingerprints (``urls``), what a crawl follows (``scope``), link and
title extraction with lexbor (``extract``), a page's text encoding (``charset``) and its
resolved links (``page``)."""
