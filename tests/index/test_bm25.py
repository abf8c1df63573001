"""The BM25 keyword index: queries read the vocabulary without growing it."""

from __future__ import annotations

import pytest

from index import SearchIndex

pytestmark = pytest.mark.slow


def test_keyword_queries_read_the_vocabulary_without_growing_it(built_index):
    """A query's BM25 ids are bm25s' own for it, and searching never adds to the tokenizer's tables: bm25s'
    tokenize(update_vocab="never") caches every new word, so a service would grow with each word sent."""
    kw = SearchIndex.load(built_index).keywords
    tok = kw._tok
    query = "Who sends Belgians to watch over elections in other countries about the death penalty?"
    sizes = (len(tok.word_to_stem), len(tok.word_to_id), len(tok.stem_to_sid))
    for i in range(200):
        kw.search(f"{query} unseenword{i} xq{i}", 5)
    assert (len(tok.word_to_stem), len(tok.word_to_id), len(tok.stem_to_sid)) == sizes
    theirs = [int(t) for t in tok.tokenize([query], update_vocab="never", return_as="ids",
                                           show_progress=False)[0] if t]
    assert kw.query_ids(query) == theirs and theirs  # "death", "penalty", "other", "countries"
    assert kw.query_ids("the of and") == [] and kw.search("the of and", 5)[1].size == 0
