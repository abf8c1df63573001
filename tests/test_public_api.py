"""Each stage's public surface is curated (``__all__``) and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import assistant
import index
import ingest


@pytest.mark.parametrize("module", [ingest, index, assistant])
def test_all_is_complete_and_importable(module):
    public = {name for name in dir(module) if not name.startswith("_")}
    exported = set(module.__all__)
    assert exported <= public
    missing = {n for n in public - exported
               if not isinstance(getattr(module, n), type(sys)) and n not in {"annotations", "Path"}}
    assert not missing, f"{module.__name__} exposes {missing} without listing them in __all__"


def test_import_loads_no_model_and_ingest_never_imports_torch():
    code = ("import sys, ingest, index, assistant; "
            "print(*(int(m in sys.modules) for m in ('torch', 'faiss', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "0", "0"]
