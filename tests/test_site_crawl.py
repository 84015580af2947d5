"""Issue 2's acceptance: a serial crawl of the whole fixture site, via the real CLI."""

from crawler.links.urls import canonical
from tests.support.cli import cli_records


def test_serial_cli_crawl_matches_the_site_manifest(fresh_site):
    # --ignore-robots: the manifest describes a robots-blind crawl (test_robots.py)
    code, records, stderr = cli_records(
        "--mode", "serial", "--depth", "50", "--ignore-robots", fresh_site.url, timeout=120
    )
    assert code == 1, stderr  # the site has 404s and a loop on purpose
    manifest = fresh_site.manifest()["pages"]
    got = {canonical(r["url"]): r for r in records}
    assert len(got) == len(records), "a page produced two records"
    assert set(got) == set(manifest)
    for url, expected in manifest.items():
        record = got[url]
        assert (record["status"], record["error"]) == (expected["status"], expected["error"]), url
        assert record["depth"] == expected["depth"], url
    assert {r["error"] for r in records} == {None, "http_error", "redirect_loop"}
    counts = fresh_site.counts()
    assert all(n == 1 for n in counts.values()), {p: n for p, n in counts.items() if n != 1}
    assert sum(counts.values()) == len(records)
