"""A team's own agent, not Breakwater code: a Python service on the `anthropic` package from PyPI.

It knows nothing of Breakwater. The SDK reads ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY from the
environment, as it does anywhere; in an AgentDeployment with spec.agent the operator points them
at the runtime beside it. At start it makes one streaming call before it serves (the in-cluster
suite reads the outcome at /startup: it fails if the runtime were not ready yet), then answers
POST /ask {"input": ...} with one streaming model call.
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic

MODEL = os.environ["AGENT_MODEL"]
PORT = int(os.environ.get("AGENT_PORT", "8000"))
# The SDK retries by itself; the runtime beside it already does, under its policy.
client = anthropic.Anthropic(max_retries=0, timeout=30.0)


def ask(prompt):
    try:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": prompt}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        return 200, {"text": text, "model": final.model, "sdk": "anthropic " + anthropic.__version__}
    except anthropic.APIStatusError as err:
        return err.status_code, {"error": type(err).__name__, "status": err.status_code}
    except anthropic.APIError as err:
        return 502, {"error": type(err).__name__, "message": str(err)}


STARTUP = dict(zip(("status", "body"), ask("the first call, at start")))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            self._send(200, {"ok": True})
        elif self.path == "/startup":
            self._send(200, STARTUP)
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/ask":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self._send(*ask(str(body.get("input", "hello"))))

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
