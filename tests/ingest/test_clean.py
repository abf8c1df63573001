"""Cleaning: debris removed, short title lines as section headings, raw offsets kept."""

from __future__ import annotations

from ingest import split_blocks
from ingest.clean import clean_lines


def test_debris_is_removed():
    lines = [ln.text for ln in clean_lines("-\nLast updated on\nHeading\nA sentence here.-\n  two   spaces  \n")]
    assert "-" not in lines and "Last updated on" not in lines
    assert "A sentence here." in lines
    assert "two spaces" in lines


def test_short_title_lines_become_section_headings(chunks):
    sections = {c.section for c in chunks}
    for heading in ("Remit", "Structure", "Human rights", "Peace and security", "Aid effectiveness",
                    "What are human rights?"):
        assert heading in sections
    for c in chunks:
        assert c.doc_title
        assert c.text.strip() not in sections  # a heading never stands alone as a passage


def test_split_blocks_keeps_raw_offsets():
    raw = "Title\nFirst   sentence here. Second one.\n- item one;\n- item two.\n"
    (block,) = split_blocks(raw)
    assert block.section == "Title"
    assert raw[block.start:block.end].startswith("First")
    assert block.text.endswith("item two.")
