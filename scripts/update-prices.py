#!/usr/bin/env python3
"""Regenerate Sources/Policy/Resources/model_prices.json from LiteLLM's price table.

Usage:
    pip download litellm --no-deps -d /tmp/litellm-wheel
    unzip -o /tmp/litellm-wheel/litellm-*.whl \
        'litellm/model_prices_and_context_window_backup.json' -d /tmp/litellm-wheel
    python3 scripts/update-prices.py \
        /tmp/litellm-wheel/litellm/model_prices_and_context_window_backup.json [OUTPUT]

OUTPUT defaults to Sources/Policy/Resources/model_prices.json next to this script.

Keeps first-party Anthropic, OpenAI and Gemini text/embedding models, entries
unchanged except that boolean "supports_*" capability flags are dropped
(supports_prompt_caching is kept). Gemini entries are keyed "gemini/<name>" by
LiteLLM; a bare "<name>" copy is added so lookups by bare model name work
(unless LiteLLM already has a bare key with litellm_provider "gemini").
"sample_spec" is copied through unchanged; loaders must skip it.
"""
import json
import os
import re
import sys

# Modalities and variants we do not price through the gateway.
EXCLUDE = re.compile(
    r"(^ft:|/|audio|realtime|image|tts|transcribe|search|live|moderation)"
)

ANTHROPIC = re.compile(r"^claude-")
OPENAI = re.compile(
    r"^(gpt-4o|gpt-4o-mini|gpt-4o-\d{4}-\d{2}-\d{2}|gpt-4o-mini-\d{4}-\d{2}-\d{2}"
    r"|gpt-4\.1.*|gpt-[5-9].*|o1.*|o3.*|o4-mini.*"
    r"|text-embedding-3-small|text-embedding-3-large|text-embedding-ada-002)$"
)
GEMINI = re.compile(
    r"^(gemini-[2-9](\.\d+)?-.*|gemini-[2-9]-.*|gemini-(flash|flash-lite|pro)-latest"
    r"|gemini-embedding-.*)$"
)


def keep(key, entry):
    provider = entry.get("litellm_provider")
    mode = entry.get("mode")
    if provider == "anthropic":
        return bool(ANTHROPIC.match(key)) and "/" not in key and mode == "chat"
    if provider == "openai":
        return (
            not EXCLUDE.search(key)
            and bool(OPENAI.match(key))
            and mode in ("chat", "responses", "embedding")
        )
    if provider == "gemini":
        name = key[len("gemini/"):] if key.startswith("gemini/") else key
        return (
            "/" not in name
            and not EXCLUDE.search(name)
            and bool(GEMINI.match(name))
            and mode in ("chat", "embedding")
        )
    return False


def slim(entry):
    return {
        k: v
        for k, v in entry.items()
        if not (k.startswith("supports_") and k != "supports_prompt_caching")
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, "..", "Sources", "Policy", "Resources", "model_prices.json"
    )
    with open(src) as f:
        table = json.load(f)

    out = {}
    if "sample_spec" in table:
        out["sample_spec"] = table["sample_spec"]
    for key, entry in table.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        if keep(key, entry):
            out[key] = slim(entry)

    # Bare-name copies of "gemini/<name>" entries.
    for key in sorted(k for k in out if k.startswith("gemini/")):
        bare = key[len("gemini/"):]
        existing = table.get(bare)
        if isinstance(existing, dict) and existing.get("litellm_provider") == "gemini":
            continue  # already kept (or deliberately excluded) under its own key
        out[bare] = out[key]

    for required in ("claude-sonnet-4-5", "gpt-4o-mini"):
        if required not in out:
            sys.exit(f"missing required model {required!r}")

    with open(dst, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(out) - ('sample_spec' in out)} models to {dst}")


if __name__ == "__main__":
    main()
