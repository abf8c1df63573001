"""The BM25 keyword index: queries read the vocabulary without growing it."""

from __future__ import annotations

import numpy as np
import pytest

from index import SearchIndex

pytestmark = pytest.mark.slow


def test_keyword_queries_read_the_vocabulary_without_growing_it(built_index):
    """An English query scores exactly as bm25s' own English tokenizer would over the same chunks, and
    searching never adds to the index's tables (bm25s' tokenize(update_vocab="never") caches every new word,
    so a service would grow with each word sent)."""
    import bm25s
    import Stemmer

    ix = SearchIndex.load(built_index)
    kw = ix.keywords
    query = "Who sends Belgians to watch over elections in other countries about the death penalty?"
    sizes = {lang: len(ids) for lang, ids in kw._word_ids.items()}
    for i in range(200):
        kw.search(f"{query} unseenword{i} xq{i}", 5, language=("en", "fr", "nl", "de")[i % 4])
    assert {lang: len(ids) for lang, ids in kw._word_ids.items()} == sizes
    tok = bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")
    texts = [c.embedding_text() for c in ix.chunks]
    theirs = bm25s.BM25(k1=1.2, b=0.75)  # KeywordIndex.build's parameters
    theirs.index(tok.tokenize(texts, update_vocab=True, return_as="tuple", show_progress=False), show_progress=False)
    their_ids = [int(t) for t in tok.tokenize([query], update_vocab="never", return_as="ids",
                                              show_progress=False)[0] if t]
    assert their_ids and len(kw.query_ids(query)) == len(their_ids)  # "death", "penalty", "other", "countries"
    ours = kw.search(query, len(texts))
    expected = np.asarray(theirs.get_scores(their_ids), dtype=np.float32)
    assert ours.ids.tolist() == [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
    np.testing.assert_allclose(ours.scores, expected[ours.ids], rtol=1e-6)
    assert kw.query_ids("the of and") == [] and kw.search("the of and", 5)[1].size == 0


def test_each_language_has_one_stemmer_shared_by_the_index_and_the_question():
    """The keyword index and the assistant's word matching stem with the same instance (one per language and
    process); a language without a stemmer here is analysed as English."""
    from assistant.question import stemmer as question_stemmer
    from index.bm25 import analyzer, stemmer

    for language in ("en", "fr", "nl", "de"):
        assert stemmer(language) is analyzer(language)._stemmer is question_stemmer(language)
    assert len({id(stemmer(lang)) for lang in ("en", "fr", "nl", "de")}) == 4
    assert stemmer("xx") is stemmer("en") is analyzer("xx")._stemmer
