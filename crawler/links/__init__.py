"""Links: URL normal forms and fingerprints (``urls``), what a crawl follows (``scope``), link and
title extraction with lxml (``extract``) and a page's text encoding (``charset``)."""
