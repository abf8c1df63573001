"""From a site to answers that link to it: the fixture site crawled on loopback, indexed with the real MiniLM and
FAISS, asked through the assistant; each citation opens its page at the quoted sentence."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from assistant.config import Settings
from assistant.factory import build, load_assistant
from ingest.crawl import crawl_site
from tests.ingest.test_crawl import FAST, serve, site  # noqa: F401 - the fixture site's fixtures

pytestmark = pytest.mark.slow


def test_answers_over_a_crawled_site_link_to_their_pages_and_sentences(site, tmp_path):  # noqa: F811
    corpus = tmp_path / "corpus"
    crawl_site(site.url("/"), corpus, FAST)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", fits_dir=tmp_path / "no-fits")
    build(settings, progress=False)
    assistant = load_assistant(settings)

    answer = assistant.ask("What does an asset freeze forbid?", top_k=3)
    shown = [*answer.citations, *answer.related]
    assert not answer.abstained and answer.citations, answer
    for passage in shown:
        assert passage.url is not None and passage.url.startswith(site.base), passage
        page, _, fragment = passage.link.partition("#:~:text=")  # type: ignore[union-attr]
        assert page == passage.url and fragment, passage.link
        # The fragment is the passage's first sentence as the page has it, so the browser scrolls to it.
        assert unquote(fragment).split(",")[0] in passage.text
    best = answer.citations[0]
    assert urlsplit(best.url).path == "/en/sanctions"  # type: ignore[arg-type]
    assert "asset freeze" in best.text
