"""The scraper side: what a parse callback sees (``page``), running and loading callbacks
(``callbacks``) and where their items go (``items``)."""
