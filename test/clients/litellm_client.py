"""LiteLLM as a client (the Python SDK, not its proxy) against a Breakwater runtime.

Usage: litellm_client.py CASE [CASE ...]; BW_BASE_URL, BW_API_KEY and BW_MODEL as for
anthropic_client.py; BW_MAX_RETRIES, when set, is passed as num_retries (LiteLLM's own
default is used otherwise). One JSON line per case on stdout. LiteLLM reads its model
price map from the package (LITELLM_LOCAL_MODEL_COST_MAP) so the test needs no network.
"""

import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

litellm.suppress_debug_info = True

MODEL = "anthropic/" + os.environ["BW_MODEL"]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def call(messages, **options):
    if "BW_MAX_RETRIES" in os.environ:
        options["num_retries"] = int(os.environ["BW_MAX_RETRIES"])
    return litellm.completion(
        model=MODEL,
        messages=messages,
        api_base=os.environ["BW_BASE_URL"],
        api_key=os.environ["BW_API_KEY"],
        max_tokens=64,
        **options,
    )


def plain():
    response = call([{"role": "user", "content": "hello"}])
    headers = response._hidden_params.get("additional_headers") or {}
    return {
        "text": response.choices[0].message.content,
        "request_id": headers.get("llm_provider-request-id"),
    }


def stream():
    chunks = call([{"role": "user", "content": "hello"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    return {"text": text}


def tool():
    messages = [{"role": "user", "content": "use tool get_weather for Paris"}]
    first = call(messages, tools=[TOOL])
    message = first.choices[0].message
    tool_call = message.tool_calls[0]
    messages += [
        message.model_dump(),
        {"role": "tool", "tool_call_id": tool_call.id, "content": "sunny"},
    ]
    second = call(messages, tools=[TOOL])
    return {
        "stop_reason": first.choices[0].finish_reason,
        "tool": tool_call.function.name,
        "text": second.choices[0].message.content,
    }


def models():
    ids = litellm.get_valid_models(
        check_provider_endpoint=True,
        custom_llm_provider="anthropic",
        api_key=os.environ["BW_API_KEY"],
        api_base=os.environ["BW_BASE_URL"],
    )
    return {"ids": ids}


CASES = {"plain": plain, "stream": stream, "tool": tool, "models": models}


def described(error):
    """What LiteLLM's error says: its class, status and the answer's headers as it keeps them."""
    headers = getattr(error, "litellm_response_headers", None) or {}
    return {
        "class": type(error).__name__,
        "message": str(error)[:300],
        "status": getattr(error, "status_code", None),
        "provider_status": getattr(error, "provider_status_code", None),
        # The OpenAI base class's request_id, which LiteLLM's errors inherit.
        "request_id": getattr(error, "request_id", None),
        "header_request_id": headers.get("request-id"),
        "retry_after": headers.get("retry-after"),
        "should_retry": headers.get("x-should-retry"),
    }


def main():
    for name in sys.argv[1:]:
        try:
            line = {"case": name, "ok": True, **CASES[name]()}
        except Exception as error:  # noqa: BLE001: every LiteLLM error is reported, by class
            line = {"case": name, "ok": False, "error": described(error)}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
