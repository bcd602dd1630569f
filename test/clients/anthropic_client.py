"""The Python `anthropic` SDK against a Breakwater runtime, one case per argv word.

Usage: anthropic_client.py CASE [CASE ...]; the runtime's URL, the key and the model come
from BW_BASE_URL, BW_API_KEY and BW_MODEL; BW_MAX_RETRIES, when set, replaces the SDK's
default retries (the error cases turn them off). One JSON line per case on stdout:
{"case": ..., "ok": true, ...} or {"case": ..., "ok": false, "error": {...}}.
"""

import json
import os
import sys

import anthropic

MODEL = os.environ["BW_MODEL"]
TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client():
    options = {"base_url": os.environ["BW_BASE_URL"], "api_key": os.environ["BW_API_KEY"]}
    if "BW_MAX_RETRIES" in os.environ:
        options["max_retries"] = int(os.environ["BW_MAX_RETRIES"])
    return anthropic.Anthropic(**options)


def text_of(message):
    return "".join(block.text for block in message.content if block.type == "text")


def plain():
    message = client().messages.create(
        model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "hello"}]
    )
    return {"text": text_of(message), "request_id": message._request_id}


def stream():
    with client().messages.stream(
        model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "hello"}]
    ) as events:
        deltas = "".join(events.text_stream)
        final = events.get_final_message()
    return {"text": deltas, "final": text_of(final), "stop_reason": final.stop_reason}


def tool():
    api = client()
    messages = [{"role": "user", "content": "use tool get_weather for Paris"}]
    first = api.messages.create(model=MODEL, max_tokens=64, tools=[TOOL], messages=messages)
    call = next(block for block in first.content if block.type == "tool_use")
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
        },
    ]
    second = api.messages.create(model=MODEL, max_tokens=64, tools=[TOOL], messages=messages)
    return {"stop_reason": first.stop_reason, "tool": call.name, "text": text_of(second)}


def models():
    return {"ids": [model.id for model in client().models.list()]}


CASES = {"plain": plain, "stream": stream, "tool": tool, "models": models}


def described(error):
    """What the SDK's error says, read the SDK's way."""
    out = {"class": type(error).__name__, "message": str(error)}
    if isinstance(error, anthropic.APIStatusError):
        out["status"] = error.status_code
        out["request_id"] = error.request_id
        out["retry_after"] = error.response.headers.get("retry-after")
        out["should_retry"] = error.response.headers.get("x-should-retry")
        body = error.body if isinstance(error.body, dict) else {}
        out["body_request_id"] = body.get("request_id")
        out["type"] = (body.get("error") or {}).get("type")
    out["overloaded"] = isinstance(error, anthropic.OverloadedError)
    return out


def main():
    for name in sys.argv[1:]:
        try:
            line = {"case": name, "ok": True, **CASES[name]()}
        except anthropic.APIError as error:
            line = {"case": name, "ok": False, "error": described(error)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
