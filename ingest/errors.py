"""Errors raised while reading the corpus and its catalogue.

    DGMError                 base of every error this project raises on purpose
    ├── CorpusError          a corpus folder or document that cannot be read
    ├── CatalogueError       directorates.yaml / themes.yaml is invalid (names file and entry)
    └── CrawlError           a site that cannot be crawled at all (a page that fails is only reported)

``index.errors`` and ``assistant.errors`` extend the same tree.
"""

from __future__ import annotations


class DGMError(Exception):
    """Base class: the message is meant for a person and names the fix where there is one."""


class CorpusError(DGMError):
    """The corpus folder or one of its documents cannot be read."""


class CatalogueError(DGMError):
    """The directorate catalogue or the theme map is invalid."""


class CrawlError(DGMError):
    """A site cannot be crawled at all (a bad start URL, an unreadable robots.txt, another site's state)."""
