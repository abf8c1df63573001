"""`dgm-assistant`, the command line: clear messages instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_cli_missing_index_prints_message_not_traceback(tmp_path):
    env_cmd = [sys.executable, "-m", "cli", "ask", "Who handles NATO?", "--index", str(tmp_path / "none")]
    proc = subprocess.run(env_cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "dgm-assistant build" in proc.stderr and "Traceback" not in proc.stderr
