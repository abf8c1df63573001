"""The crawler against a real HTTP server on 127.0.0.1 serving the fictional site of fixtures/site/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ingest import chunk_corpus, load_documents
from ingest.crawl import STATE_FILE, CrawlOptions, Outcome, crawl_site, page_file, user_agent
from ingest.errors import CrawlError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "site"
PUBLIC_BASE = "https://ministry.example"  # the fixture pages' own address, rewritten to the server's
MTIME = 1772611200  # 2026-03-04 08:00 UTC: every fixture file's modification time, so Last-Modified is fixed
CONTACT = "https://example.org/dgm-assistant-tests"
FAST = CrawlOptions(rate=100, concurrency=2, timeout=0.5, contact=CONTACT)

LANGUAGES = ("en", "fr", "nl", "de")
TOPICS = {  # the four topics of the site, in each language
    "en": ["human-rights", "sanctions", "climate", "disarmament"],
    "fr": ["droits-humains", "sanctions", "climat", "desarmement"],
    "nl": ["mensenrechten", "sancties", "klimaat", "ontwapening"],
    "de": ["menschenrechte", "sanktionen", "klima", "abruestung"],
}
TOPIC_PATHS = [f"/{lang}/{slug}" for lang in LANGUAGES for slug in TOPICS[lang]]
# Paragraphs every page of a language repeats inside its main content, and the page furniture around it.
FEEDBACK = ["Did you find this page useful?", "Cette page vous a-t-elle été utile", "Was deze pagina nuttig",
            "War diese Seite hilfreich"]
FURNITURE = ["cookies", "Cookies", "Staff intranet", "Privacy", "Accessibility", "©", "Beispielministerium",
             "Accueil"]

pytestmark = pytest.mark.timeout(120)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class Site:
    """The fixture site on 127.0.0.1: the files of a folder (a copy, so a test may change a page) with
    https://ministry.example rewritten to the server's own address, ETag and Last-Modified validators that
    answer conditional requests with 304, a redirect, a server error, a page slower than the crawler's
    timeout, and a log of every request."""

    root: Path
    etags: bool = True
    delay: float = 0.0  # seconds every answer takes
    robots: str | None = None  # another robots.txt
    hidden: set[str] = field(default_factory=set)  # paths that answer 404
    redirects: dict[str, str] = field(default_factory=lambda: {"/en/multilateral": "/en/united-nations"})
    errors: dict[str, int] = field(default_factory=lambda: {"/en/unstable": 500})
    slow: dict[str, float] = field(default_factory=lambda: {"/en/slow": 1.5})
    log: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        return [r.path for r in self.log]

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]

    def file_for(self, path: str) -> Path | None:
        if path == "/":
            path = "/index.html"
        file = self.root / path.lstrip("/")
        if not file.suffix:
            file = file.with_name(file.name + ".html")
        return file if file.is_file() and path not in self.hidden else None

    def url(self, path: str) -> str:
        return self.base + path


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    types = {".html": "text/html; charset=utf-8", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = urlsplit(self.path).path
            req = Request(path, dict(self.headers.items()), time.monotonic())
            with site.lock:
                site.log.append(req)
                site.in_flight += 1
                site.max_in_flight = max(site.max_in_flight, site.in_flight)
            try:
                time.sleep(site.delay + site.slow.get(path, 0.0))
                req.status = self._answer(path)
            except (BrokenPipeError, ConnectionResetError):  # the crawler gave up waiting (the slow page)
                pass
            finally:
                with site.lock:
                    site.in_flight -= 1

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return status

        def _answer(self, path: str) -> int:
            if path in site.redirects:
                target = site.redirects[path]
                return self._send(301, headers={"Location": site.base + target if target[0] == "/" else target})
            if path in site.errors:
                return self._send(site.errors[path], b"<h1>Server error</h1>", {"Content-Type": types[".html"]})
            if path == "/robots.txt" and site.robots is not None:
                return self._send(200, site.robots.encode(), {"Content-Type": types[".txt"]})
            file = site.file_for(path)
            if file is None:
                return self._send(404, b"<h1>Not found</h1>", {"Content-Type": types[".html"]})
            body = file.read_bytes().replace(PUBLIC_BASE.encode(), site.base.encode())
            mtime = int(file.stat().st_mtime)
            headers = {"Content-Type": types.get(file.suffix, "application/octet-stream"),
                       "Last-Modified": formatdate(mtime, usegmt=True)}
            if site.etags:
                headers["ETag"] = f'"{sha256(body).hexdigest()[:16]}"'
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if site.etags and inm is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110)
                fresh = inm == headers["ETag"]
            else:
                fresh = ims is not None and parsedate_to_datetime(ims).timestamp() >= mtime
            if fresh:
                return self._send(304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
            return self._send(200, body, headers)

    return Handler


def _serve(root: Path, **kwargs) -> Site:
    shutil.copytree(FIXTURE, root)
    for f in root.rglob("*"):
        os.utime(f, (MTIME, MTIME))
    site = Site(root, **kwargs)
    site.thread.start()
    return site


@pytest.fixture
def serve(tmp_path):
    """Start the fixture site (``serve(etags=False, ...)``); every server started is stopped after the test."""
    sites: list[Site] = []

    def start(**kwargs) -> Site:
        site = _serve(tmp_path / f"site{len(sites)}", **kwargs)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.server.shutdown()
        site.server.server_close()


@pytest.fixture
def site(serve) -> Site:
    return serve()


def _by_path(report) -> dict:
    return {urlsplit(r.url).path: r for r in report.results}


# --- one crawl --------------------------------------------------------------------------------------------

def test_crawl_follows_robots_and_sitemaps_and_lists_every_outcome(site, tmp_path):
    corpus = tmp_path / "corpus"
    report = crawl_site(site.url("/"), corpus, FAST)
    results = _by_path(report)

    assert site.paths()[0] == "/robots.txt"
    assert set(report.sitemaps) == {site.url("/sitemap.xml"), site.url("/sitemaps/pages.xml"),
                                    site.url("/sitemaps/news.xml")}
    assert {r.headers["User-Agent"] for r in site.log} == {user_agent(CONTACT)}
    assert user_agent(CONTACT).startswith("DGM-Assistant-crawler/") and user_agent(CONTACT).endswith(f"(+{CONTACT})")

    # Every topic page in four languages, the news page and the redirect's target are saved.
    saved = TOPIC_PATHS + ["/en/news", "/en/multilateral"]
    for path in saved:
        assert results[path].outcome is Outcome.NEW, (path, results[path])
        assert (corpus / results[path].file).is_file()
        assert results[path].file == f"pages/{page_file(results[path].final_url)}"
    # The redirect is followed and recorded: the page is saved under its final URL.
    moved = results["/en/multilateral"]
    assert moved.redirects == (site.url("/en/united-nations"),) and moved.final_url == site.url("/en/united-nations")
    assert json.loads((corpus / moved.file).with_suffix(".crawl.json").read_text())["url"] == moved.final_url
    # robots.txt's Disallow wins over the sitemap that lists the page: never requested.
    assert results["/private/internal"].outcome is Outcome.DISALLOWED
    assert not any(p.startswith("/private/") for p in site.paths())
    # Errors are listed and never end the crawl.
    assert results["/en/removed"].outcome is Outcome.ERROR and results["/en/removed"].detail == "HTTP 404"
    assert results["/en/unstable"].detail == "HTTP 500"
    assert results["/en/slow"].outcome is Outcome.ERROR and "timed out" in results["/en/slow"].detail
    summary = report.summary()
    for path in ("/en/removed", "/en/unstable", "/en/slow", "/private/internal", "/en/multilateral"):
        assert site.url(path) in summary
    assert report.finished and not report.resumed
    # Each page is asked for once; the state file records the run as finished.
    page_requests = [p for p in site.paths() if not p.endswith((".txt", ".xml"))]
    assert len(page_requests) == len(set(page_requests))
    state = json.loads((corpus / STATE_FILE).read_text())
    assert state["run"]["finished"] and not state["run"]["pending"]


def test_a_crawled_site_ingests_with_urls_languages_and_no_boilerplate(site, tmp_path):
    corpus = tmp_path / "corpus"
    crawl_site(site.url("/"), corpus, FAST)
    chunks, _ = chunk_corpus(corpus)
    docs = {d.meta.source_url: d for d in load_documents(corpus)}

    pages = TOPIC_PATHS + ["/en/news", "/en/united-nations"]
    assert {site.url(p) for p in pages} <= set(docs)
    for chunk in chunks:
        path = urlsplit(chunk.source).path
        assert chunk.source.startswith(site.base) and path in pages + ["/"], chunk
        assert chunk.language == path.split("/")[1], chunk
    # Every page gives passages, in its language; none is boilerplate, none carries markup.
    assert {urlsplit(c.source).path for c in chunks} == set(pages)
    for chunk in chunks:
        for text in FEEDBACK + FURNITURE:
            assert text not in chunk.text, (text, chunk)
        for markup in ("<", ">", "&lt;", "&amp;", "**", "|"):
            assert markup not in chunk.text, (markup, chunk)
    # A paragraph two of the six English pages share is below the 50 % rule: it stays on both.
    shared = [c for c in chunks if c.text == "The ministry reports on this work to Parliament every year."]
    assert len(shared) == 2
    texts = " ".join(c.text for c in chunks)
    assert "- Year: 2025; Resolution: Rights of the child" in texts  # a table row, as a list item
    assert "escaped twice by the content management system and still reads as plain text" in texts

    fr = docs[site.url("/fr/droits-humains")].meta
    assert fr.language == "fr" and fr.title == "Droits humains"
    assert fr.breadcrumb == ("Accueil", "Politique", "Droits humains")
    assert fr.modified == "2026-03-04T08:00:00+00:00"  # the Last-Modified header wins over the page's meta
    assert dict(fr.twins) == {"en": site.url("/en/human-rights"), "fr": site.url("/fr/droits-humains"),
                              "nl": site.url("/nl/mensenrechten"), "de": site.url("/de/menschenrechte")}
    de = docs[site.url("/de/klima")].meta
    assert de.language == "de" and de.breadcrumb == ("Startseite", "Politik", "Klima")  # hreflang; breadcrumb nav
    un = docs[site.url("/en/united-nations")].meta
    assert un.title == "United Nations" and un.twin("en") == site.url("/en/united-nations")


# --- a second crawl ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("etags", [True, False], ids=["etag", "last-modified-only"])
def test_a_recrawl_fetches_only_what_changed(serve, tmp_path, etags):
    site = serve(etags=etags)
    corpus = tmp_path / "corpus"
    first = crawl_site(site.url("/"), corpus, FAST)
    saved = {r.final_url: r.file for r in first.of(Outcome.NEW)}
    written = {f: (corpus / f).stat().st_mtime_ns for f in saved.values()}

    news = site.root / "en" / "news.html"
    news.write_text(news.read_text().replace("First edition", "Second edition"))
    os.utime(news, (MTIME + 86400, MTIME + 86400))
    (site.root / "de" / "klima.html").unlink()  # gone from the site: 404
    site.log.clear()
    second = crawl_site(site.url("/"), corpus, FAST)
    results = _by_path(second)

    for url in saved:
        path = urlsplit(url).path
        (req,) = site.requests_for(path)
        assert req.headers.get("If-Modified-Since") == formatdate(MTIME, usegmt=True), path
        assert ("If-None-Match" in req.headers) is etags, path
        expected = {"/en/news": 200, "/de/klima": 404}.get(path, 304)
        assert req.status == expected, path
    assert [urlsplit(r.url).path for r in second.of(Outcome.CHANGED)] == ["/en/news"]
    assert not second.of(Outcome.NEW)
    assert "Second edition" in (corpus / results["/en/news"].file).read_text()
    # An unchanged page is not rewritten; the page that is gone leaves the corpus.
    for url, file in saved.items():
        if urlsplit(url).path not in ("/en/news", "/de/klima"):
            assert (corpus / file).stat().st_mtime_ns == written[file]
    assert second.removed == (site.url("/de/klima"),)
    assert not (corpus / saved[site.url("/de/klima")]).exists()
    assert results["/en/multilateral"].outcome is Outcome.UNCHANGED  # its redirect's target answered 304


# --- interrupted crawls -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_crawl_resumes_where_it_stopped(serve, tmp_path, how):
    site = serve()
    corpus = tmp_path / "corpus"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "cli", "crawl", site.url("/"), "--out", str(corpus), "--rate", "8",
           "--concurrency", "1", "--max-pages", "100"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while len([p for p in site.paths() if not p.endswith((".txt", ".xml"))]) < 6:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.02)
    proc.send_signal(how)
    out, _ = proc.communicate(timeout=30)
    if how == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in out and "run it again to resume" in out, out
    state = json.loads((corpus / STATE_FILE).read_text())  # whole, even after a kill: replaced atomically
    done = {r["url"] for r in state["run"]["results"]}
    assert not state["run"]["finished"] and done and state["run"]["pending"]
    before = len(site.log)

    report = crawl_site(site.url("/"), corpus, FAST)
    resumed = site.paths()[before:]
    assert report.resumed and report.finished
    assert resumed[0] == "/robots.txt" and not any(p.endswith(".xml") for p in resumed)  # no new discovery
    assert not {site.url(p) for p in resumed} & done  # nothing done before is asked for again
    assert {urlsplit(r.url).path for r in report.results} >= set(TOPIC_PATHS) | {"/en/news", "/private/internal"}
    assert len({r.url for r in report.results}) == len(report.results)


# --- politeness and discovery -----------------------------------------------------------------------------

def _spaced(site: Site, rate: float) -> None:
    """Requests start at most ``rate`` a second. Measured where they arrive, so a request that waited for a
    new connection may land a little after its turn and close to the next one: over any two intervals, and
    over the whole crawl, the spacing holds."""
    starts = sorted(r.at for r in site.log)
    assert len(starts) >= 5
    assert min(b - a for a, b in zip(starts, starts[2:], strict=False)) >= 1.5 / rate
    assert starts[-1] - starts[0] >= 0.9 * (len(starts) - 1) / rate


def test_requests_keep_to_the_rate(site, tmp_path):
    crawl_site(site.url("/"), tmp_path / "corpus", CrawlOptions(rate=10, max_pages=6, timeout=2))
    _spaced(site, 10)


def test_robots_request_rate_lowers_the_rate(serve, tmp_path):
    site = serve(robots="User-agent: *\nRequest-rate: 5/1\n")
    crawl_site(site.url("/"), tmp_path / "corpus", CrawlOptions(rate=100, max_pages=3, timeout=2))
    _spaced(site, 5)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_concurrency_is_a_limit(serve, tmp_path, concurrency):
    site = serve(delay=0.2)
    crawl_site(site.url("/"), tmp_path / "corpus", CrawlOptions(rate=100, concurrency=concurrency, max_pages=8))
    assert site.max_in_flight == concurrency


def test_without_a_sitemap_line_sitemap_xml_is_read(serve, tmp_path):
    site = serve(robots="User-agent: *\nDisallow: /private/\n")
    report = crawl_site(site.url("/"), tmp_path / "corpus", FAST)
    assert site.url("/sitemap.xml") in report.sitemaps
    assert {site.url(p) for p in TOPIC_PATHS} <= {r.url for r in report.of(Outcome.NEW)}


def test_a_given_sitemap_is_read_instead(site, tmp_path):
    report = crawl_site(site.url("/"), tmp_path / "corpus",
                        CrawlOptions(rate=100, timeout=0.5, sitemap=site.url("/sitemaps/news.xml")))
    assert report.sitemaps == (site.url("/sitemaps/news.xml"),)
    assert "/sitemap.xml" not in site.paths()
    assert {urlsplit(r.url).path for r in report.results} == {"/", "/en/news", "/en/multilateral", "/en/removed",
                                                             "/en/unstable", "/en/slow"}


def test_without_any_sitemap_links_are_followed_up_to_max_pages(serve, tmp_path):
    site = serve(robots="User-agent: *\nDisallow: /private/\n", hidden={"/sitemap.xml"})
    report = crawl_site(site.url("/"), tmp_path / "corpus", CrawlOptions(rate=100, timeout=0.5, max_pages=6))
    assert len(report.results) == 6 and report.left_out > 0
    assert report.results[0].url == site.url("/")
    assert all(r.url.startswith(site.base) for r in report.results)


def test_only_the_site_is_crawled(serve, tmp_path):
    site = serve()
    site.redirects["/en/multilateral"] = "http://other.example/elsewhere"
    report = crawl_site(site.url("/"), tmp_path / "corpus", FAST)
    moved = _by_path(report)["/en/multilateral"]
    assert moved.outcome is Outcome.SKIPPED and "off the site" in moved.detail


# --- what stops a crawl before it starts ------------------------------------------------------------------

def test_bad_starts_are_clear_errors(serve, tmp_path):
    with pytest.raises(CrawlError, match="not an http"):
        crawl_site("ftp://example.org/", tmp_path / "c", FAST)
    site = serve()
    site.errors["/robots.txt"] = 503
    with pytest.raises(CrawlError, match="robots.txt.*HTTP 503"):
        crawl_site(site.url("/"), tmp_path / "c", FAST)
    del site.errors["/robots.txt"]
    crawl_site(site.url("/"), tmp_path / "c", CrawlOptions(rate=100, max_pages=1))
    other = serve()
    with pytest.raises(CrawlError, match="holds a crawl of"):
        crawl_site(other.url("/"), tmp_path / "c", FAST)
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(CrawlError, match="a-file"):
        crawl_site(site.url("/"), tmp_path / "a-file", FAST)


@pytest.mark.parametrize("bad, message", [
    (dict(max_pages=0), "max_pages must be at least 1, got 0"),
    (dict(rate=0), "rate must be more than 0"),
    (dict(concurrency=0), "concurrency must be at least 1, got 0"),
    (dict(timeout=-1), "timeout must be more than 0"),
])
def test_options_are_validated(bad, message):
    with pytest.raises(ValueError, match=message):
        CrawlOptions(**bad)


def test_cli_crawl_prints_the_summary(site, tmp_path):
    from typer.testing import CliRunner

    from cli.app import app

    corpus = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["crawl", site.url("/"), "--out", str(corpus), "--rate", "100",
                                      "--concurrency", "2", "--max-pages", "40"])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output and site.url("/en/removed") in result.output
    assert (corpus / STATE_FILE).is_file() and list((corpus / "pages").glob("*.html"))
