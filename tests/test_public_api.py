"""Each stage's public surface is curated (``__all__``): complete, importable, and loading nothing heavy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["ingest", "index", "assistant", "assistant.api", "assistant.question", "assistant.insights",
            "assistant.privacy", "eval", "eval.bench", "cli"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_and_importable(name):
    """Every name ``__all__`` lists is there, once; every name of the project's own that the package shows
    (a class, a function or a constant, not a submodule nor an import such as ``Path``) is listed."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    absent = [n for n in exported if not hasattr(module, n)]
    assert not absent, f"{name}.__all__ lists {absent}, which it does not define"
    top = name.split(".")[0]

    def ours(obj) -> bool:
        # A constant has no module of its own: an instance of another library's class (datetime.UTC) is not
        # ours, a plain value (a number, a string, a tuple) is taken as the package's own.
        origin = getattr(obj, "__module__", None) or type(obj).__module__
        return origin == "builtins" or origin == top or origin.startswith(top + ".")

    shown = {n for n in dir(module) if not n.startswith("_")}
    unlisted = {n for n in shown - set(exported)
                if not isinstance(getattr(module, n), type(sys)) and ours(getattr(module, n))}
    assert not unlisted, f"{name} exposes {unlisted} without listing them in __all__"
    namespace: dict = {}
    exec(f"from {name} import *", namespace)  # the star import is what __all__ governs
    assert set(exported) <= set(namespace)


def test_import_loads_no_model_and_no_stage_imports_eval():
    """Importing the stages loads no model library; ingest never imports torch; nothing but cli imports eval."""
    code = ("import sys, ingest, index, assistant, assistant.api, assistant.question; "
            "print(*(int(m in sys.modules) for m in ('torch', 'faiss', 'sentence_transformers', 'onnxruntime', "
            "'eval')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "0", "0", "0", "0"]
    code = "import sys, eval, eval.bench, cli; print(*(int(m in sys.modules) for m in ('torch', 'faiss')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "0"]
