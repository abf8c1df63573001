"""HTML pages: their main content as plain text, and what a page says about itself.

The main content comes from trafilatura, which drops navigation, cookie banners, footers and scripts; it
is rendered here as the plain text the cleaner reads: a ``# `` line per heading, a line per paragraph,
``- `` per list item and a line per table row. Whatever markup is left in the text itself (a CMS that
escaped its tags twice, stray entities) is taken out, so no passage ever carries markup.

What a page says about itself: its canonical URL, its language (``<html lang>``, else the hreflang
alternate that points at the page), its title, its breadcrumb trail (schema.org ``BreadcrumbList``
JSON-LD, else a breadcrumb navigation), its last modification (meta tags, JSON-LD ``dateModified``) and
its versions in other languages (hreflang alternates).
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urldefrag, urljoin

from lxml import etree
from lxml import html as lxml_html

log = logging.getLogger(__name__)

# Meta tags that state when a page was last changed, most specific first (compared lower-cased, on
# name, property, itemprop or http-equiv).
MODIFIED_META = ("article:modified_time", "og:updated_time", "dcterms.modified", "dc.date.modified",
                 "datemodified", "last-modified", "modified")

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class PageInfo:
    """What an HTML page says about itself; a field the page does not state is empty."""

    url: str = ""  # <link rel="canonical">, else og:url
    language: str = ""  # primary subtag, lower case: "fr" for "fr-BE"
    title: str = ""
    breadcrumb: tuple[str, ...] = ()
    modified: str = ""  # ISO 8601
    twins: tuple[tuple[str, str], ...] = ()  # (language, URL), sorted by language; x-default left out


def parse(html: str) -> Any | None:
    """The page as an lxml tree, or None when there is nothing to parse. Bytes, so that an XML declaration
    naming an encoding is no error."""
    try:
        return lxml_html.document_fromstring(html.encode("utf-8"),
                                             parser=lxml_html.HTMLParser(encoding="utf-8"))
    except (etree.ParserError, ValueError):
        return None


def language_tag(tag: str | None) -> str:
    """The primary language subtag of a BCP 47 tag ("fr-BE" -> "fr"), or "" when it is not one."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if _LANGUAGE.fullmatch(primary) else ""


def has_markup(text: str) -> bool:
    """Whether ``text`` holds an HTML tag or entity (what `plain` takes out)."""
    return bool(_TAG.search(text) or _ENTITY.search(text))


def plain(text: str) -> str:
    """Text with any markup left in it taken out (tags escaped twice, entities) and whitespace collapsed."""
    for _ in range(3):  # an entity escaped twice needs two passes, then its tags a third
        before = text
        if _ENTITY.search(text):
            text = html_lib.unescape(text)
        if _TAG.search(text):
            text = lxml_html.fragment_fromstring(text, create_parent="div").text_content()
        if text == before:
            break
    return " ".join(text.split())


# --- main content ----------------------------------------------------------------------------------------

def page_text(html: str) -> str:
    """The page's main content as plain text ("" when trafilatura finds none).

    Headings become ``# `` lines (so the cleaner takes them as section headings whatever their length),
    paragraphs a line each, list items ``- `` lines, and table rows ``- `` lines too (a table is read as
    a list of its rows), their cells labelled with the header row's when there is one
    ("- Year: 2025; Resolution: ...").
    """
    import trafilatura

    doc = trafilatura.bare_extraction(html, include_comments=False, include_tables=True, favor_recall=True,
                                      include_images=False, include_links=False, include_formatting=False)
    body = getattr(doc, "body", None)
    if body is None:
        return ""
    blocks: list[str] = []
    for el in body:
        blocks.extend(_render(el))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _inline(el: Any) -> list[str]:
    """An element's text as plain lines (a line break inside a paragraph starts a new line)."""
    for lb in el.iter("lb"):
        lb.tail = "\n" + (lb.tail or "")
    lines = (plain(line) for line in "".join(el.itertext()).split("\n"))
    return [line for line in lines if line]


def _list_items(el: Any, depth: int = 0) -> Iterator[str]:
    for item in el.iterchildren("item"):
        nested = [child for child in item if child.tag == "list"]
        for child in nested:  # the item's own text first, then its sub-list
            item.remove(child)
        text = " ".join(_inline(item))
        if text:
            yield f"- {text}"
        for child in nested:
            yield from _list_items(child, depth + 1)


def _table_rows(el: Any) -> Iterator[str]:
    rows = [[" ".join(_inline(cell)) for cell in row.iterchildren("cell")] for row in el.iter("row")]
    heads: list[str] = []
    first = next(el.iter("row"), None)
    if first is not None and all(c.get("role") == "head" for c in first.iterchildren("cell")):
        heads, rows = rows[0], rows[1:]
    for cells in rows:
        if heads and len(heads) == len(cells):
            yield "- " + "; ".join(f"{h}: {c}" if h else c for h, c in zip(heads, cells, strict=True) if c)
        elif any(cells):
            yield "- " + "; ".join(c for c in cells if c)


def _render(el: Any) -> list[str]:
    tag = el.tag
    if not isinstance(tag, str) or tag == "graphic":
        return []
    if tag == "head":
        text = " ".join(_inline(el))
        return [f"# {text}"] if text else []
    if tag == "list":
        items = list(_list_items(el))
        return ["\n".join(items)] if items else []
    if tag == "table":
        rows = list(_table_rows(el))
        return ["\n".join(rows)] if rows else []
    if tag in ("div", "main", "body") or any(child.tag in ("p", "head", "list", "table") for child in el):
        return [block for child in el for block in _render(child)]
    lines = _inline(el)
    return ["\n".join(lines)] if lines else []


# --- what the page says about itself --------------------------------------------------------------------

def page_info(html: str, url: str = "") -> PageInfo:
    """Read a page's own metadata.

    Args:
        html: the page.
        url: where the page was fetched from, when known: relative links resolve against it, and it finds
            the hreflang alternate that is the page itself when there is no canonical link.
    """
    tree = parse(html)
    if tree is None:
        return PageInfo()
    canonical = _link_href(tree, "canonical", url) or _meta(tree, ("og:url",))
    base = canonical or url
    twins = _twins(tree, base)
    language = language_tag(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
    if not language:
        selves = {_same(u) for u in (canonical, url) if u}
        language = next((lang for lang, href in twins if _same(href) in selves), "")
    ld = list(_json_ld(tree))
    return PageInfo(url=canonical, language=language, title=_title(tree), breadcrumb=_breadcrumb(tree, ld),
                    modified=_modified(tree, ld), twins=twins)


def page_links(html: str, url: str) -> tuple[list[str], list[str]]:
    """A page's hreflang alternates and its ``<a href>`` links, absolute and without fragments."""
    tree = parse(html)
    if tree is None:
        return [], []
    base = urljoin(url, (tree.xpath("string(//base/@href)") or "").strip())
    alternates = [href for _, href in _twins(tree, base)]
    links = [urldefrag(urljoin(base, h.strip())).url for h in tree.xpath("//a/@href")
             if h.strip() and not h.strip().startswith(("#", "mailto:", "tel:", "javascript:"))]
    return alternates, list(dict.fromkeys(links))


def _same(url: str) -> str:
    return urldefrag(url).url.rstrip("/")


def _link_href(tree: Any, rel: str, base: str) -> str:
    for link in tree.iter("link"):
        if rel in (link.get("rel") or "").lower().split() and (link.get("href") or "").strip():
            return urldefrag(urljoin(base, link.get("href").strip())).url
    return ""


def _meta(tree: Any, names: tuple[str, ...]) -> str:
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = (meta.get("content") or "").strip()
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attr) or "").strip().lower()
            if key in names and content:
                found.setdefault(key, content)
    return next((found[n] for n in names if n in found), "")


def _twins(tree: Any, base: str) -> tuple[tuple[str, str], ...]:
    twins: dict[str, str] = {}
    for link in tree.iter("link"):
        lang = language_tag(link.get("hreflang"))
        href = (link.get("href") or "").strip()
        if "alternate" in (link.get("rel") or "").lower().split() and lang and href:
            twins.setdefault(lang, urldefrag(urljoin(base, href)).url)
    return tuple(sorted(twins.items()))


def _title(tree: Any) -> str:
    import trafilatura

    meta = trafilatura.extract_metadata(tree)  # strips the site's name from "<title>Page | Site</title>"
    if meta is not None and meta.title:
        return plain(meta.title)
    return plain(tree.xpath("string(//title)") or "")


def _json_ld(tree: Any) -> Iterator[dict]:
    """Every JSON-LD object of the page, nested ones and @graph members included."""
    def walk(node: Any) -> Iterator[dict]:
        if isinstance(node, list):
            for x in node:
                yield from walk(x)
        elif isinstance(node, dict):
            yield node
            for key in ("@graph", "breadcrumb", "mainEntity", "isPartOf"):
                if key in node:
                    yield from walk(node[key])

    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            yield from walk(json.loads(script.text or ""))
        except ValueError:
            log.debug("skipping JSON-LD that is not valid JSON")


def _types(node: dict) -> set[str]:
    t = node.get("@type")
    return {str(x) for x in (t if isinstance(t, list) else [t])}


def _crumb_name(item: dict) -> str:
    name = item.get("name")
    if not name and isinstance(item.get("item"), dict):  # {"item": {"@id": ..., "name": ...}}
        name = item["item"].get("name")
    return plain(str(name or ""))


def _breadcrumb(tree: Any, ld: list[dict]) -> tuple[str, ...]:
    for node in ld:
        if "BreadcrumbList" in _types(node):
            items = [x for x in node.get("itemListElement") or [] if isinstance(x, dict)]
            items.sort(key=lambda x: float(x.get("position") or 0))
            names = [_crumb_name(x) for x in items]
            if any(names):
                return tuple(n for n in names if n)
    lower = "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    marked = " or ".join(f"contains({lower.format(a)}, 'breadcrumb')" for a in ("@aria-label", "@class", "@id"))
    for trail in tree.xpath(f"//*[{marked}][not(ancestor::*[{marked}])]"):
        crumbs = trail.xpath(".//li") or trail.xpath(".//a")
        names = [plain(c.text_content()) for c in crumbs]
        if any(names):
            return tuple(n for n in names if n)
    return ()


def _iso(value: str) -> str:
    value = value.strip()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat()  # an HTTP date, as http-equiv last-modified has it
    except (TypeError, ValueError, IndexError):
        log.debug("ignoring a modification date that is neither ISO 8601 nor an HTTP date: %r", value)
        return ""


def http_date(value: str | None) -> str:
    """A Last-Modified header as ISO 8601 ("" when absent or not a date)."""
    return _iso(value) if value else ""


def _modified(tree: Any, ld: list[dict]) -> str:
    candidates = [_meta(tree, MODIFIED_META)]
    candidates += [str(n["dateModified"]) for n in ld if n.get("dateModified")]
    candidates += tree.xpath("//time[@itemprop='dateModified']/@datetime")
    return next((iso for iso in (_iso(c) for c in candidates if c) if iso), "")
