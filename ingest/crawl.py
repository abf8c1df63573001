"""Crawl a site into a corpus folder: the pages its sitemaps list, fetched politely and saved as HTML.

    report = crawl_site("https://diplomatie.belgium.be/en", Path("corpus"), CrawlOptions(rate=1.0))

- **Discovery.** The sitemaps that robots.txt names (its ``Sitemap:`` lines), else ``/sitemap.xml``, or
  the one given, read by ultimate-sitemap-parser (indexes, urlsets, text and gzip sitemaps); the start
  page, every page they list on the site and the hreflang twins of every page are visited. A site
  without a sitemap is walked link by link from the start page instead.
- **Politeness.** robots.txt is obeyed: a disallowed URL is never requested, and its Crawl-delay or
  Request-rate lowers the rate. At most ``rate`` requests a second, ``concurrency`` at a time, under a
  user agent that names the project, its version and a contact.
- **Only the site.** URLs on the start URL's host (and port; http and https alike) are crawled; a
  redirect that leaves the site is recorded, not followed.
- **Recrawl.** A page saved before is asked for with If-None-Match / If-Modified-Since, so an unchanged
  page costs a 304 and is not rewritten.
- **Redirects** are followed (at most five) and recorded; a page is saved under its final URL.
- **Errors** (4xx, 5xx, timeouts, refused connections) are recorded and listed in the report; the crawl
  goes on. A page that answers 404 or 410 leaves the corpus; after another error its last copy stays.
- **State.** ``<corpus>/crawl-state.json``, replaced atomically after every page: the validators and files
  of the saved pages, and the current run (its queue and what it has done), so an interrupted crawl goes
  on where it stopped when it is run again with the same start URL.
- **Saved pages.** ``<corpus>/pages/<path>-<hash>.html`` (the final URL's path made a file name, and a
  hash of path and query, so the name is stable and unique) beside ``<same>.crawl.json``, the sidecar
  with what HTTP said (final URL, Last-Modified) that ``ingest.readers`` reads with what the page says.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
from usp.exceptions import SitemapException
from usp.fetch_parse import SitemapFetcher
from usp.objects.sitemap import InvalidSitemap
from usp.web_client.abstract_client import AbstractWebClient, AbstractWebClientSuccessResponse, WebClientErrorResponse

from .errors import CrawlError
from .html import http_date, page_links, page_text
from .models import FetchFacts
from .readers import sidecar_path

__all__ = ["STATE_FILE", "USER_AGENT_NAME", "CrawlOptions", "CrawlReport", "Outcome", "PageResult", "crawl_site",
           "page_file", "user_agent"]

log = logging.getLogger(__name__)

USER_AGENT_NAME = "DGM-Assistant-crawler"
STATE_FILE = "crawl-state.json"
STATE_VERSION = 1
PAGES_DIR = "pages"
MAX_REDIRECTS = 5
MAX_PAGE_BYTES = 10 * 1024 * 1024
MAX_SITEMAP_BYTES = 100 * 1024 * 1024  # ultimate-sitemap-parser's own limit
HTML_TYPES = ("text/html", "application/xhtml+xml")
GONE = (404, 410)


def _version() -> str:
    try:
        return metadata.version("dgm-assistant")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent(contact: str = "") -> str:
    """``DGM-Assistant-crawler/<version> (+<contact>)``: who is crawling, and how to reach them."""
    name = f"{USER_AGENT_NAME}/{_version()}"
    return f"{name} (+{contact})" if contact else name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def page_file(url: str) -> str:
    """The file name a page is saved under: its path made a name, and a hash of path and query (the host is
    left out, so a staging copy of the site saves under the same names)."""
    parts = urlsplit(url)
    where = parts.path + (f"?{parts.query}" if parts.query else "")
    slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")[:80].strip("-") or "index"
    return f"{slug}-{hashlib.sha256(where.encode('utf-8')).hexdigest()[:8]}.html"


def _site(url: str) -> tuple[str, int | None]:
    """Host and explicit port: http://x and https://x are one site, http://x:8080 another."""
    parts = urlsplit(url)
    port = parts.port
    if (parts.scheme, port) in (("http", 80), ("https", 443)):
        port = None
    return (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class CrawlOptions:
    """How to crawl.

    Args:
        max_pages: the most distinct URLs one crawl visits; the rest are counted as left out.
        rate: requests per second at most (robots.txt's Crawl-delay or Request-rate may lower it).
        concurrency: requests in flight at most.
        timeout: seconds to wait for a server before a request counts as failed.
        sitemap: a sitemap URL to read instead of looking for one.
        contact: a URL or e-mail address for the user agent, so a webmaster can reach whoever crawls.
    """

    max_pages: int = 1000
    rate: float = 1.0
    concurrency: int = 2
    timeout: float = 20.0
    sitemap: str | None = None
    contact: str = ""

    def __post_init__(self) -> None:
        if self.max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {self.max_pages}")
        if not self.rate > 0:
            raise ValueError(f"rate must be more than 0 requests a second, got {self.rate}")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be more than 0 seconds, got {self.timeout}")


class Outcome(StrEnum):
    NEW = "new"  # fetched and saved for the first time
    CHANGED = "changed"  # fetched again, and it had changed: saved again
    UNCHANGED = "unchanged"  # 304 Not Modified, or the same content again
    ERROR = "error"  # 4xx, 5xx, timeout, refused connection, too many redirects
    DISALLOWED = "disallowed"  # robots.txt forbids it: never requested
    SKIPPED = "skipped"  # not an HTML page, no main content, or a redirect off the site


@dataclass(frozen=True)
class PageResult:
    """What became of one URL in a crawl."""

    url: str
    outcome: Outcome
    status: int | None = None  # the last HTTP status, None when no response came
    final_url: str = ""  # after redirects
    file: str = ""  # the saved page, relative to the corpus folder
    detail: str = ""  # why, for an error or a skip
    redirects: tuple[str, ...] = ()  # where the redirects led, final URL last

    def to_dict(self) -> dict:
        return {"url": self.url, "outcome": self.outcome.value, "status": self.status, "final_url": self.final_url,
                "file": self.file, "detail": self.detail, "redirects": list(self.redirects)}

    @classmethod
    def from_dict(cls, d: dict) -> PageResult:
        return cls(url=d["url"], outcome=Outcome(d["outcome"]), status=d.get("status"),
                   final_url=d.get("final_url", ""), file=d.get("file", ""), detail=d.get("detail", ""),
                   redirects=tuple(d.get("redirects", ())))


@dataclass(frozen=True)
class CrawlReport:
    """A crawl's summary: every URL's outcome, in the order they were done."""

    start_url: str
    corpus: Path
    results: tuple[PageResult, ...]
    sitemaps: tuple[str, ...]  # the sitemaps read
    problems: tuple[str, ...]  # sitemaps that could not be read, and why
    resumed: bool  # this crawl went on with an interrupted one
    finished: bool  # False when interrupted: run it again to go on
    pending: int  # URLs still to visit (when interrupted)
    left_out: int  # URLs not visited because of max_pages
    removed: tuple[str, ...]  # pages that answered 404/410 and left the corpus
    requests: int  # HTTP requests made by this invocation
    seconds: float

    def of(self, *outcomes: Outcome) -> list[PageResult]:
        return [r for r in self.results if r.outcome in outcomes]

    @property
    def errors(self) -> list[PageResult]:
        return self.of(Outcome.ERROR)

    @property
    def redirected(self) -> list[PageResult]:
        return [r for r in self.results if r.redirects]

    def summary(self) -> str:
        counts = ", ".join(f"{len(self.of(o))} {o.value}" for o in Outcome)
        state = "finished" if self.finished else f"interrupted with {self.pending} URLs to go: run it again to resume"
        lines = [f"crawl of {self.start_url} into {self.corpus} {state}"
                 f"{' (resumed)' if self.resumed else ''}: {len(self.results)} URLs ({counts}), "
                 f"{self.requests} requests in {self.seconds:.1f} s"]
        if self.sitemaps:
            lines.append(f"sitemaps read: {', '.join(self.sitemaps)}")
        sections: list[tuple[str, list[str]]] = [
            ("sitemap problems", list(self.problems)),
            ("redirects", [f"{r.url} -> {r.redirects[-1]}" for r in self.redirected]),
            ("errors", [f"{r.url}: {r.detail}" for r in self.errors]),
            ("skipped", [f"{r.url}: {r.detail}" for r in self.of(Outcome.SKIPPED)]),
            ("disallowed by robots.txt", [r.url for r in self.of(Outcome.DISALLOWED)]),
            ("removed from the corpus (gone from the site)", list(self.removed)),
        ]
        for title, items in sections:
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  {item}" for item in items)
        if self.left_out:
            lines.append(f"left out: {self.left_out} more URLs of the site (raise max pages to include them)")
        return "\n".join(lines)


# --- state ------------------------------------------------------------------------------------------------

@dataclass
class _Saved:
    """A page saved in the corpus, keyed by its final URL."""

    file: str
    etag: str = ""
    last_modified: str = ""  # the header as sent, for If-Modified-Since
    sha256: str = ""
    fetched: str = ""


@dataclass
class _Run:
    start_url: str
    started: str
    follow_links: bool = False
    sitemaps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)  # in order; the ones in flight too
    results: dict[str, PageResult] = field(default_factory=dict)
    landed: list[str] = field(default_factory=list)  # final URLs reached through redirects
    left_out: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    finished: str = ""


@dataclass
class _State:
    site: str
    saved: dict[str, _Saved] = field(default_factory=dict)
    run: _Run | None = None

    def to_dict(self) -> dict:
        run = self.run
        return {
            "version": STATE_VERSION,
            "site": self.site,
            "saved": {url: vars(s) for url, s in self.saved.items()},
            "run": None if run is None else {
                **{k: v for k, v in vars(run).items() if k not in ("pending", "results")},
                "pending": list(run.pending),
                "results": [r.to_dict() for r in run.results.values()],
            },
        }

    @classmethod
    def from_dict(cls, d: dict) -> _State:
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"state version {d.get('version')!r}, this crawler writes {STATE_VERSION}")
        r = d.get("run")
        run = None if r is None else _Run(
            **{k: v for k, v in r.items() if k not in ("pending", "results")},
            pending=dict.fromkeys(r["pending"]),
            results={x["url"]: PageResult.from_dict(x) for x in r["results"]},
        )
        return cls(site=d["site"], saved={u: _Saved(**s) for u, s in d["saved"].items()}, run=run)


def _write_atomically(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- the crawler ------------------------------------------------------------------------------------------

class _Refused(Exception):
    """A URL not requested (robots.txt, off the site) or abandoned (too many redirects)."""

    def __init__(self, outcome: Outcome, detail: str, chain: list[str] | None = None):
        super().__init__(detail)
        self.outcome, self.detail, self.chain = outcome, detail, chain or []


@dataclass
class _Response:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes | None  # None when not read (not HTML, or a redirect)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body decoded with the charset the server names, else as trafilatura guesses it."""
        from trafilatura.utils import decode_file

        body = self.body or b""
        charset = httpx.Response(self.status, headers={"content-type": self.headers.get("content-type", "")}
                                 ).charset_encoding  # the headers' charset, parsed as httpx parses it
        if charset:
            try:
                return body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                log.debug("%s: not %s as its server says; guessing", self.url, charset)
        return decode_file(body)


class _Crawler:
    def __init__(self, start_url: str, corpus: Path, options: CrawlOptions):
        parts = urlsplit(start_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrawlError(f"{start_url!r} is not an http(s) URL; give the site's start page, "
                             f"e.g. https://diplomatie.belgium.be/en")
        self.start_url = urldefrag(start_url).url
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.site = _site(start_url)
        self.corpus = corpus
        self.options = options
        self.ua = user_agent(options.contact)
        self.state = self._load_state()
        self.resumed = False
        self.requests = 0
        self.started = time.monotonic()
        self.robots = RobotFileParser()
        self.limiter: Any = None
        self.client: httpx.AsyncClient | None = None
        self.queue: asyncio.Queue[str] | None = None
        self.seen: set[str] = set()
        self.stopping = False

    # state
    @property
    def state_path(self) -> Path:
        return self.corpus / STATE_FILE

    def _load_state(self) -> _State:
        path = self.state_path
        if not path.exists():
            return _State(site=self.origin)
        try:
            state = _State.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise CrawlError(f"{path}: not a crawl state this crawler can read ({exc}); delete it to crawl "
                             f"afresh (every page is then fetched again)") from exc
        if _site(state.site) != self.site:
            raise CrawlError(f"{self.corpus} holds a crawl of {state.site}, not of {self.origin}; crawl into "
                             f"another corpus folder")
        return state

    def _save(self) -> None:
        _write_atomically(self.state_path, json.dumps(self.state.to_dict(), ensure_ascii=False, indent=1))

    @property
    def run_state(self) -> _Run:
        assert self.state.run is not None
        return self.state.run

    # requests
    def same_site(self, url: str) -> bool:
        return urlsplit(url).scheme in ("http", "https") and _site(url) == self.site

    def allowed(self, url: str) -> bool:
        return self.robots.can_fetch(self.ua, url)

    async def _request(self, url: str, headers: dict[str, str] | None = None, *, read: str = "html",
                       max_bytes: int = MAX_PAGE_BYTES) -> _Response:
        """One GET, spaced by the rate limiter; the body is read when it is HTML (``read="html"``) or
        whatever it is (``read="any"``), up to ``max_bytes``."""
        assert self.client is not None
        async with self.limiter:
            self.requests += 1
            async with self.client.stream("GET", url, headers=headers) as resp:
                body: bytes | None = None
                wanted = read == "any" or resp.headers.get("content-type", "").split(";")[0].strip().lower() \
                    in HTML_TYPES
                if resp.status_code == 200 and wanted:
                    chunks, size = [], 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _Refused(Outcome.SKIPPED, f"larger than {max_bytes // 2**20} MiB")
                        chunks.append(chunk)
                    body = b"".join(chunks)
                return _Response(str(resp.url), resp.status_code, resp.headers, body)

    async def _follow(self, url: str, *, conditional: bool, read: str = "html",
                      max_bytes: int = MAX_PAGE_BYTES) -> tuple[_Response, list[str]]:
        """GET ``url`` and the redirects it leads to, each hop checked against the site and robots.txt."""
        chain = [url]
        for _ in range(MAX_REDIRECTS + 1):
            current = chain[-1]
            if not self.same_site(current):
                raise _Refused(Outcome.SKIPPED, f"redirected off the site, to {current}", chain)
            if not self.allowed(current):
                raise _Refused(Outcome.DISALLOWED, f"{current} is disallowed by robots.txt", chain)
            resp = await self._request(current, self._validators(current) if conditional else None, read=read,
                                       max_bytes=max_bytes)
            location = resp.headers.get("location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                chain.append(urldefrag(urljoin(current, location.strip())).url)
                continue
            return resp, chain
        raise _Refused(Outcome.ERROR, f"more than {MAX_REDIRECTS} redirects", chain)

    def _validators(self, url: str) -> dict[str, str]:
        saved = self.state.saved.get(url)
        if saved is None or not (self.corpus / saved.file).exists():
            return {}
        headers = {}
        if saved.etag:
            headers["If-None-Match"] = saved.etag
        if saved.last_modified:
            headers["If-Modified-Since"] = saved.last_modified
        return headers

    # robots.txt and sitemaps
    async def _read_robots(self) -> None:
        url = f"{self.origin}/robots.txt"
        self.robots.set_url(url)
        try:
            resp, _ = await self._follow_robots(url)
        except httpx.HTTPError as exc:
            raise CrawlError(f"{url}: cannot be read ({type(exc).__name__}: {exc}); a polite crawler takes an "
                             f"unreachable robots.txt to disallow everything: try again later") from exc
        if resp.status >= 500:
            raise CrawlError(f"{url}: HTTP {resp.status}; a polite crawler takes an unavailable robots.txt to "
                             f"disallow everything: try again later")
        if resp.status == 200 and resp.body is not None:
            self.robots.parse(resp.body.decode("utf-8", errors="replace").splitlines())
        else:  # 4xx: there is no robots.txt, so nothing is disallowed (RFC 9309)
            self.robots.parse([])
        limits = [self.options.rate]
        delay = self.robots.crawl_delay(self.ua)
        if delay:
            limits.append(1 / float(delay))
        rate = self.robots.request_rate(self.ua)
        if rate and rate.requests:
            limits.append(rate.requests / rate.seconds)
        if min(limits) < self.options.rate:
            log.info("robots.txt asks for at most %.3g requests a second", min(limits))
            self._set_rate(min(limits))
            await self.limiter.acquire()  # robots.txt's own request counts: the next one waits its turn

    async def _follow_robots(self, url: str) -> tuple[_Response, list[str]]:
        chain = [url]
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self._request(chain[-1], read="any", max_bytes=MAX_PAGE_BYTES)
            location = resp.headers.get("location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                chain.append(urljoin(chain[-1], location.strip()))
                continue
            return resp, chain
        return _Response(url, 404, httpx.Headers(), None), chain  # RFC 9309: after five redirects, none

    def _set_rate(self, rate: float) -> None:
        from aiolimiter import AsyncLimiter

        # One request every 1/rate seconds, without a burst at the start.
        self.limiter = AsyncLimiter(1, 1 / rate)

    async def _discover(self) -> tuple[list[str], list[str], list[str]]:
        """The sitemaps read, the page URLs they list, and the sitemaps that failed."""
        if self.options.sitemap:
            urls = [urljoin(self.start_url, self.options.sitemap)]
        else:
            urls = self.robots.site_maps() or [f"{self.origin}/sitemap.xml"]
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.to_thread(self._read_sitemaps, urls, loop)
        except asyncio.CancelledError:
            self.stopping = True  # the sitemap thread then stops at its next request
            raise

    def _read_sitemaps(self, urls: list[str], loop: asyncio.AbstractEventLoop
                       ) -> tuple[list[str], list[str], list[str]]:
        client = _SitemapClient(self, loop)
        read: list[str] = []
        pages: list[str] = []
        problems: list[str] = []
        for url in urls:
            try:
                tree = SitemapFetcher(url=url, recursion_level=0, web_client=client).sitemap()
            except SitemapException as exc:
                problems.append(f"{url}: {exc}")
                continue
            for sitemap in (tree, *tree.all_sitemaps()):
                if isinstance(sitemap, InvalidSitemap):
                    problems.append(f"{sitemap.url}: {sitemap.reason}")
                else:
                    read.append(sitemap.url)
            pages.extend(page.url for page in tree.all_pages())
        return read, pages, problems

    # the crawl
    def enqueue(self, url: str) -> None:
        url = urldefrag(url).url
        if url in self.seen or not self.same_site(url):
            return
        run = self.run_state
        if len(self.seen) >= self.options.max_pages:
            if url not in run.left_out:
                run.left_out.append(url)
            return
        self.seen.add(url)
        run.pending[url] = None
        if self.queue is not None:
            self.queue.put_nowait(url)

    async def run(self) -> None:
        self._set_rate(self.options.rate)
        timeout = httpx.Timeout(self.options.timeout)
        limits = httpx.Limits(max_connections=self.options.concurrency,
                              max_keepalive_connections=self.options.concurrency)
        async with httpx.AsyncClient(headers={"User-Agent": self.ua}, timeout=timeout, limits=limits,
                                     follow_redirects=False) as client:
            self.client = client
            await self._read_robots()
            run = self.state.run
            self.resumed = run is not None and not run.finished and run.start_url == self.start_url
            if self.resumed:
                assert run is not None
                self.seen = {*run.pending, *run.results, *run.landed}
                log.info("resuming the crawl of %s started %s: %d URLs to go", self.start_url, run.started,
                         len(run.pending))
            else:  # saved only once discovery is done, so a crawl interrupted before discovers again
                self.state.run = _Run(start_url=self.start_url, started=_now())
                self.enqueue(self.start_url)
                sitemaps, pages, problems = await self._discover()
                self.run_state.sitemaps, self.run_state.problems = sitemaps, problems
                self.run_state.follow_links = not pages
                if not pages:
                    log.warning("no sitemap lists a page of %s: following the links of its pages instead",
                                self.origin)
                for url in pages:
                    self.enqueue(url)
            self._save()
            self.queue = asyncio.Queue()
            for url in self.run_state.pending:
                self.queue.put_nowait(url)
            workers = [asyncio.create_task(self._worker()) for _ in range(self.options.concurrency)]
            joined = asyncio.ensure_future(self.queue.join())
            try:
                done, _ = await asyncio.wait([joined, *workers], return_when=asyncio.FIRST_COMPLETED)
                for task in done - {joined}:
                    task.result()  # a worker ends only by raising (the state could not be written): re-raise
            finally:
                for task in (joined, *workers):
                    task.cancel()
                await asyncio.gather(joined, *workers, return_exceptions=True)
                self._save()
            self.run_state.finished = _now()
            self._save()

    async def _worker(self) -> None:
        assert self.queue is not None
        while True:
            url = await self.queue.get()
            try:
                result = await self._visit(url)
            except Exception as exc:  # a bug on one page must not end the crawl of the others
                log.exception("crawling %s failed", url)
                result = PageResult(url, Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")
            try:
                self._record(url, result)
            finally:
                self.queue.task_done()

    def _record(self, url: str, result: PageResult) -> None:
        run = self.run_state
        run.pending.pop(url, None)
        run.results[url] = result
        self._save()
        level = logging.WARNING if result.outcome is Outcome.ERROR else logging.INFO
        log.log(level, "%s %s%s", result.outcome.value, url, f": {result.detail}" if result.detail else "")

    async def _visit(self, url: str) -> PageResult:
        try:
            resp, chain = await self._follow(url, conditional=True)
        except _Refused as refused:
            return PageResult(url, refused.outcome, detail=refused.detail, redirects=tuple(refused.chain[1:]))
        except httpx.TimeoutException:
            return PageResult(url, Outcome.ERROR, detail=f"timed out after {self.options.timeout:g} s")
        except httpx.HTTPError as exc:
            return PageResult(url, Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")
        final = chain[-1]
        redirects = tuple(chain[1:])
        if final not in self.seen:  # reached through a redirect: not to be visited again on its own
            self.seen.add(final)
            self.run_state.landed.append(final)

        def result(outcome: Outcome, detail: str = "", file: str = "") -> PageResult:
            return PageResult(url, outcome, status=resp.status, final_url=final, file=file, detail=detail,
                              redirects=redirects)

        saved = self.state.saved.get(final)
        if resp.status == 304 and saved is not None and (self.corpus / saved.file).exists():
            self._follow_links((self.corpus / saved.file).read_text(encoding="utf-8"), final)
            return result(Outcome.UNCHANGED, file=saved.file)
        if resp.status in GONE:
            if saved is not None:
                self._remove(final, saved)
            return result(Outcome.ERROR, f"HTTP {resp.status}")
        if resp.status != 200:
            return result(Outcome.ERROR, f"HTTP {resp.status}")
        if resp.body is None:
            return result(Outcome.SKIPPED, f"not an HTML page ({resp.content_type or 'no content type'})")
        html = resp.text()
        self._follow_links(html, final)
        if not (await asyncio.to_thread(page_text, html)).strip():
            return result(Outcome.SKIPPED, "no main content")
        digest = hashlib.sha256(html.encode("utf-8")).hexdigest()
        validators = {"etag": resp.headers.get("etag", ""), "last_modified": resp.headers.get("last-modified", "")}
        if saved is not None and saved.sha256 == digest and (self.corpus / saved.file).exists():
            saved.etag, saved.last_modified = validators["etag"], validators["last_modified"]
            return result(Outcome.UNCHANGED, file=saved.file)
        file = saved.file if saved is not None else f"{PAGES_DIR}/{page_file(final)}"
        page = self.corpus / file
        facts = FetchFacts(url=final, requested=url if url != final else "",
                           modified=http_date(validators["last_modified"]), fetched=_now())
        _write_atomically(page, html)
        _write_atomically(sidecar_path(page), json.dumps(facts.to_dict(), ensure_ascii=False, indent=1))
        self.state.saved[final] = _Saved(file=file, sha256=digest, fetched=facts.fetched, **validators)
        return result(Outcome.NEW if saved is None else Outcome.CHANGED, file=file)

    def _follow_links(self, html: str, url: str) -> None:
        alternates, links = page_links(html, url)
        for link in alternates + (links if self.run_state.follow_links else []):
            self.enqueue(link)

    def _remove(self, url: str, saved: _Saved) -> None:
        page = self.corpus / saved.file
        page.unlink(missing_ok=True)
        sidecar_path(page).unlink(missing_ok=True)
        del self.state.saved[url]
        self.run_state.removed.append(url)

    def report(self) -> CrawlReport:
        run = self.state.run
        return CrawlReport(
            start_url=self.start_url,
            corpus=self.corpus,
            results=tuple(run.results.values()) if run else (),
            sitemaps=tuple(run.sitemaps) if run else (),
            problems=tuple(run.problems) if run else (),
            resumed=self.resumed,
            finished=bool(run and run.finished),
            pending=len(run.pending) if run else 0,
            left_out=len(run.left_out) if run else 0,
            removed=tuple(run.removed) if run else (),
            requests=self.requests,
            seconds=time.monotonic() - self.started,
        )


class _SitemapClient(AbstractWebClient):
    """ultimate-sitemap-parser's web client, run in a worker thread: every request goes back to the event
    loop's crawler, so sitemaps share its rate limit, user agent, robots.txt and same-site rule."""

    def __init__(self, crawler: _Crawler, loop: asyncio.AbstractEventLoop):
        self.crawler, self.loop = crawler, loop
        self.max_bytes = MAX_SITEMAP_BYTES

    def set_max_response_data_length(self, max_response_data_length: int | None) -> None:
        self.max_bytes = max_response_data_length or MAX_SITEMAP_BYTES

    def get(self, url: str) -> Any:
        if self.crawler.stopping:
            return WebClientErrorResponse("the crawl is stopping", retryable=False)
        future = asyncio.run_coroutine_threadsafe(self._get(url), self.loop)
        try:
            return future.result(timeout=self.crawler.options.timeout * (MAX_REDIRECTS + 2))
        except TimeoutError:
            future.cancel()
            return WebClientErrorResponse(f"timed out: {url}", retryable=False)

    async def _get(self, url: str) -> Any:
        # Not retried (ultimate-sitemap-parser would retry a retryable error five times, a second apart).
        try:
            resp, _ = await self.crawler._follow(url, conditional=False, read="any", max_bytes=self.max_bytes)
        except _Refused as refused:
            return WebClientErrorResponse(refused.detail, retryable=False)
        except httpx.HTTPError as exc:
            return WebClientErrorResponse(f"{type(exc).__name__}: {exc}", retryable=False)
        if resp.status != 200 or resp.body is None:
            return WebClientErrorResponse(f"HTTP {resp.status}", retryable=False)
        return _SitemapResponse(resp)


class _SitemapResponse(AbstractWebClientSuccessResponse):
    """A fetched sitemap, as ultimate-sitemap-parser's success response."""

    def __init__(self, resp: _Response):
        self.resp = resp

    def status_code(self) -> int:
        return self.resp.status

    def status_message(self) -> str:
        return "OK"

    def header(self, case_insensitive_name: str) -> str | None:
        return self.resp.headers.get(case_insensitive_name)

    def raw_data(self) -> bytes:
        return self.resp.body or b""

    def url(self) -> str:
        return self.resp.url


def crawl_site(start_url: str, corpus: Path, options: CrawlOptions | None = None) -> CrawlReport:
    """Crawl a site into ``corpus`` (its ``pages/`` folder and ``crawl-state.json``).

    Args:
        start_url: the site's start page; only URLs on its host are crawled.
        corpus: the corpus folder to write into (created when missing).
        options: rate, concurrency, page cap, timeout, sitemap and contact.

    Returns:
        The report, also when the crawl was interrupted (Ctrl-C): the state is saved, and the same call
        goes on where it stopped.

    Raises:
        CrawlError: the start URL is no http(s) URL, robots.txt cannot be read, ``corpus`` holds another
            site's crawl, or it cannot be written.
    """
    crawler = _Crawler(start_url, Path(corpus), options or CrawlOptions())
    try:
        asyncio.run(crawler.run())
    except KeyboardInterrupt:
        log.warning("crawl interrupted; its state is saved in %s: run it again to resume", crawler.state_path)
    except OSError as exc:  # the corpus folder cannot be written
        raise CrawlError(f"{corpus}: {exc}") from exc
    return crawler.report()
