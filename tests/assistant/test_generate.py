"""The optional generator: an OpenAI-compatible chat endpoint (a fake one on 127.0.0.1), with the extractive
answer as fallback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.pipeline import Assistant

pytestmark = pytest.mark.slow


class _FakeChat(BaseHTTPRequestHandler):
    reply = "The Directorate for International Governance (M4) handles cyber [1]."
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append((self.path, body, self.headers.get("Authorization")))
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": _FakeChat.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_generator_code_path(chat_server, assistant):
    from assistant.generate import OpenAICompatibleGenerator

    gen = OpenAICompatibleGenerator(chat_server, "tiny", api_key="k", timeout_s=5)
    bot = Assistant(assistant.engine, assistant.options, generator=gen)
    _FakeChat.reply = "The Directorate for International Governance (M4) handles cyber [1]."
    ans = bot.ask("Which directorate handles cyber issues?")
    assert ans.answer == _FakeChat.reply
    path, body, auth = _FakeChat.seen[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer k"
    prompt = body["messages"][-1]["content"]
    assert "[1]" in prompt and ans.citations[0].text[:40] in prompt  # only retrieved passages are given
    # A generation citing a passage that was not given falls back to the extractive answer.
    _FakeChat.reply = "Made-up claim [9]."
    ans = bot.ask("Which directorate handles cyber issues?")
    assert ans.answer.startswith("This is handled by the Directorate for International Governance (M4)")
    gen.close()
