#!/usr/bin/env python3
"""Writes the admin API's OpenAPI 3.1 document: docs/admin-openapi.json, and
Sources/HTTPServer/AdminOpenAPI.swift, which compiles it into the binary (served
at GET /admin/openapi.json). This script is the document's source: change the API,
change it here, run it, commit both outputs. A Swift test checks that the served
document is the file; tests/openapi runs Schemathesis against a live gateway with it.

    scripts/admin-openapi.py           # write both files
    scripts/admin-openapi.py --check   # exit 1 if either file differs from what this writes
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = ROOT / "docs" / "admin-openapi.json"
SWIFT_PATH = ROOT / "Sources" / "HTTPServer" / "AdminOpenAPI.swift"

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "Exact dollars as a decimal string."}
TIME = {"type": "string", "format": "date-time"}
# The one rule for names (RecordName): no control character, no `/`, no space at either end.
NAME = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[^/\s\x00-\x1f\x7f-\x9f]([^/\x00-\x1f\x7f-\x9f]*[^/\s\x00-\x1f\x7f-\x9f])?$"}
DECIMAL = {"type": "string", "pattern": r"^[0-9]{1,7}(\.[0-9]{1,12})?$"}
DOLLARS_IN = {"oneOf": [DECIMAL, {"type": "number", "minimum": 0, "maximum": 1000000}, {"type": "null"}], "description": "Dollars: a decimal string or number; null removes the limit."}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=(), additional=False):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not additional:
        schema["additionalProperties"] = False
    return schema


def nullable(schema):
    return {"oneOf": [schema, {"type": "null"}]}


def answer(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {code: {"$ref": f"#/components/responses/{name}"} for code, name in (
    ("400", "Invalid"), ("401", "Unauthorized"), ("404", "NotFound"), ("409", "Conflict"), ("429", "Throttled"), ("503", "Unavailable"))}


def operation(summary, ok=None, status="200", body=None, parameters=(), errors=("400", "401", "404", "429", "503"), tag=None):
    op = {"summary": summary, "responses": {}}
    if tag:
        op["tags"] = [tag]
    if status == "204":
        op["responses"]["204"] = {"description": "Done; no body."}
    else:
        op["responses"][status] = answer(ok)
    for code in errors:
        op["responses"][code] = ERRORS[code]
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if parameters:
        op["parameters"] = list(parameters)
    return op


def path_name(what):
    return {"name": "name", "in": "path", "required": True, "description": f"The {what}'s name.", "schema": NAME}


def query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


DAYS = query("days", {"type": "integer", "minimum": 1, "maximum": 3660}, "The last N UTC days, by day (instead of from).")
STATS_PARAMETERS = [
    DAYS,
    query("from", S, "From: ISO 8601, a UTC date (2026-12-05) or Unix seconds (default: 30 days back by day, 24 hours by hour or minute)."),
    query("to", S, "To (default: now)."),
    query("interval", {"type": "string", "enum": ["day", "hour", "minute"]}, "The slices' width (default day); minutes are kept for two days; at most 10,000 slices."),
]
MODEL_BUDGETS = {"type": "object", "description": "Caps per model glob: `{\"claude-opus-*\": {\"daily_usd\": \"10\"}}`.",
                 "additionalProperties": obj({"daily_usd": MONEY, "weekly_usd": MONEY, "monthly_usd": MONEY})}
MODEL_BUDGETS_IN = nullable({"type": "object", "additionalProperties": obj({"daily_usd": DOLLARS_IN, "weekly_usd": DOLLARS_IN, "monthly_usd": DOLLARS_IN})})
MULTIPLIER_IN = {"oneOf": [{"type": "string"}, {"type": "number"}]}
AMOUNT = obj({"amount_usd": {"oneOf": [DECIMAL, {"type": "number", "exclusiveMinimum": 0, "maximum": 1000000}]}}, required=["amount_usd"])

# What binds a key, user or group to accounts.
BINDING = {"pools": {"type": "array", "items": S}, "accounts": {"type": "array", "items": S}, "fallback_to_shared": B}
BINDING_IN = {
    "pools": nullable({"type": "array", "items": S, "description": "Route only to accounts in these pools (and `accounts`)."}),
    "accounts": nullable({"type": "array", "items": S, "description": "Route only to these accounts (and `pools`)."}),
    "fallback_to_shared": nullable({"type": "boolean", "description": "After the bound accounts, try shared ones (in no pool)."}),
}

schemas = {
    "Error": obj({"error": obj({"code": {"type": "string", "enum": ["invalid_request", "not_found", "conflict", "unauthorized", "too_many_attempts", "unavailable"]}, "message": S}, required=["code", "message"])}, required=["error"]),
    "AccountStatus": obj({
        "id": I, "name": S, "generation": I,
        "state": {"type": "string", "enum": ["ready", "disabled", "unhealthy", "cooling_down", "rpm_cap", "tpm_cap", "full"]},
        "reason": S, "in_flight": I, "waiting": I, "window_requests": I, "window_tokens": I, "total_requests": I, "total_tokens": I,
        "total_failures": I, "last_used": TIME, "last_error": S, "last_error_at": TIME, "last_429_at": TIME, "cooldown_until": TIME, "cooldown_cause": S,
        "health_mark": S,
    }, required=["id", "name", "state", "in_flight", "waiting"]),
    "Account": obj({
        "name": S, "provider": {"type": "string", "enum": ["openai", "anthropic", "gemini", "azure"]}, "base_url": S,
        "models": {"type": "array", "items": S}, "model_map": {"type": "object", "additionalProperties": S}, "priority": I,
        "enabled": B, "notes": S, "source": S, "created_at": TIME, "max_rpm": I, "max_tpm": I, "max_concurrency": I,
        "max_waiting": I, "wait_timeout": S, "intercept_warmup": B, "default_instructions": S, "weight": I,
        "headers": {"type": "object", "additionalProperties": S}, "body_overrides": {"type": "object"},
        "pools": {"type": "array", "items": S}, "model_list": {"type": "array", "items": S}, "auth_header": S, "deployment": S, "api_version": S,
        "ban_patterns": {"type": "array", "items": S}, "proxy": S,
        "secret": {"type": "string", "description": "`ok`, or why the sealed secret does not open."},
        "live": ref("AccountStatus"), "live_at": TIME,
    }, required=["name", "provider", "base_url", "models", "priority", "enabled", "secret"]),
    "AccountSettings": obj({
        "name": NAME, "provider": {"type": "string", "enum": ["openai", "anthropic", "gemini", "azure"]}, "base_url": S, "api_key": S,
        "models": {"type": "array", "items": S}, "model_map": nullable({"type": "object", "additionalProperties": S}),
        "priority": I, "enabled": B, "notes": nullable(S), "max_rpm": nullable(I), "max_tpm": nullable(I),
        "max_concurrency": nullable(I), "max_waiting": nullable(I), "wait_timeout": nullable(S), "intercept_warmup": B,
        "weight": nullable({"type": "integer", "minimum": 1, "maximum": 1000}),
        "headers": nullable({"type": "object", "additionalProperties": S, "description": "Headers added upstream; not the credential or hop-by-hop ones."}),
        "body_overrides": nullable({"type": "object", "description": "Top-level upstream body fields set to fixed JSON; not model, stream or stream_options."}),
        "default_instructions": nullable(S),
        "pools": nullable({"type": "array", "items": S, "description": "Pools the account belongs to; an account in none is shared by unbound keys."}),
        "model_list": nullable({"type": "array", "items": S, "description": "Concrete models behind the account's globs, listed by /v1/models."}),
        "auth_header": nullable({"type": "string", "description": "The header the credential goes in (OpenAI-compatible upstreams); `authorization` carries `Bearer`."}),
        "deployment": nullable({"type": "string", "description": "Azure: the deployment; `{model}` stands for the upstream model (the default)."}),
        "api_version": nullable({"type": "string", "description": "Azure: the api-version query value (default 2024-10-21)."}),
        "ban_patterns": nullable({"type": "array", "items": S, "description": "Text that, in an upstream refusal, means the account is banned (case-insensitive)."}),
        "proxy": nullable({"type": "string", "description": "http://[USER:PASSWORD@]HOST:PORT or socks5://[USER:PASSWORD@]HOST:PORT its requests go through, or `direct`; the password is sealed and never shown; changing it needs `api_key` too."}),
    }),
    "Quarantine": obj({
        "id": I, "scope": {"type": "string", "enum": ["session", "key"]}, "session": S, "key": S, "account": S, "signal": S,
        "request_id": S, "created_at": TIME,
    }, required=["id", "scope", "key", "account", "signal", "request_id", "created_at"]),
    "ModelAlias": obj({
        "name": S, "targets": {"type": "array", "items": obj({"model": S, "weight": I}, required=["model"])}, "max_failovers": I,
    }, required=["name", "targets"]),
    "Provider": obj({
        "provider": {"type": "string", "enum": ["openai", "anthropic", "gemini", "azure"]},
        "max_failovers": {"type": "integer", "description": "Failovers one request may make within this provider's accounts; absent: no cap of its own."},
    }, required=["provider"]),
    "ProviderSettings": obj({"max_failovers": nullable({"type": "integer", "minimum": 0, "maximum": 100})}),
    "Session": obj({
        "session": {"type": "string", "description": "The gateway's key for the session: a digest of what named it (a header, `prompt_cache_key`, Claude Code's session id), never the name."},
        "key": S, "user": S, "accounts": {"type": "array", "items": S}, "first_at": TIME, "last_at": TIME, "requests": I, "errors": I,
        "tokens": ref("TokenClasses"), "cost_usd": MONEY,
        "cache_hit_ratio": {"type": "number", "description": "Cache reads over all prompt tokens."},
        "cache_saved_usd": MONEY, "quarantined": B,
    }, required=["session", "accounts", "first_at", "last_at", "requests", "errors", "tokens", "cost_usd", "cache_saved_usd", "quarantined"]),
    "SessionPage": obj({"from": TIME, "to": TIME, "sessions": {"type": "array", "items": ref("Session")}}, required=["sessions"]),
    "ModelAliasSettings": obj({
        "targets": {"type": "array", "minItems": 1, "maxItems": 32, "description": "Target models in order; a target is a name or {model, weight}.",
                    "items": {"oneOf": [S, obj({"model": S, "weight": {"type": "integer", "minimum": 1, "maximum": 1000}}, required=["model"])]}},
        "max_failovers": nullable({"type": "integer", "minimum": 0, "maximum": 100}),
    }, required=["targets"]),
    "ProbeResult": obj({"ok": B, "status": I, "failure_class": S, "message": S, "latency_ms": I}, required=["ok", "message", "latency_ms"]),
    "KeyUsage": obj({
        "in_flight": I, "window_requests": I, "window_tokens": I, "window_cost_usd": MONEY, "window_reset_seconds": I,
        "today_cost_usd": MONEY, "week_cost_usd": MONEY, "month_cost_usd": MONEY, "total_cost_usd": MONEY, "total_tokens": I,
        "held_usd": MONEY, "balance_remaining_usd": MONEY, "budget_spent_usd": MONEY, "budget_resets_at": TIME,
        "models": {"type": "object", "description": "Each model's cost today, this week and this month.",
                   "additionalProperties": obj({"today_usd": MONEY, "week_usd": MONEY, "month_usd": MONEY}, required=["today_usd", "week_usd", "month_usd"])},
    }, required=["today_cost_usd", "week_cost_usd", "month_cost_usd", "total_cost_usd", "total_tokens"]),
    "Key": obj({
        "name": S, "key": {"type": "string", "description": "The key's start and last four characters, never the key."},
        "state": {"type": "string", "enum": ["active", "disabled", "expired", "revoked", "unreadable"]}, "source": S,
        "created_at": TIME, "last_used_at": TIME, "expires_at": TIME, "description": S, "tags": {"type": "array", "items": S},
        "user": S, "on_expiry": S, "activate_on_first_use_days": I, "providers": {"type": "array", "items": S},
        "models": {"type": "array", "items": S}, "clients": {"type": "array", "items": S},
        "ip_allow": {"type": "array", "items": S}, "ip_deny": {"type": "array", "items": S},
        "rate_limit": obj({"window_minutes": I, "requests": I, "tokens": I, "cost_usd": MONEY}, required=["window_minutes"]),
        "concurrency": I, "max_waiting": I, "token_limit": I, "daily_cost_usd": MONEY, "weekly_cost_usd": MONEY, "monthly_cost_usd": MONEY,
        "balance_usd": MONEY, "budget_usd": MONEY, "budget_duration": {"type": "string", "description": "Whole hours or days: `12h`, `30d`."},
        "model_budgets": MODEL_BUDGETS, "usage_reset_at": TIME,
        "usage_reset": {"type": "array", "items": {"type": "string", "enum": ["window", "daily", "tokens"]}}, "usage": ref("KeyUsage"),
        **BINDING,
    }, required=["name", "key", "state", "source", "created_at", "usage"]),
    "KeySettings": obj({
        "name": NAME, "key": S, "description": nullable(S), "tags": nullable({"type": "array", "items": S}), "user": nullable(S),
        "expires_at": nullable(S), "expires_in_days": nullable(I), "activate_on_first_use_days": nullable(I), "on_expiry": nullable({"type": "string", "enum": ["disable", "delete"]}),
        "providers": nullable({"type": "array", "items": S}), "models": nullable({"type": "array", "items": S}),
        "clients": nullable({"type": "array", "items": S}),
        "ip_allow": nullable({"type": "array", "items": S}), "ip_deny": nullable({"type": "array", "items": S}),
        "rate_limit": nullable(obj({"window_minutes": I, "requests": I, "tokens": I, "cost_usd": DOLLARS_IN})),
        "concurrency": nullable(I), "max_waiting": nullable(I), "token_limit": nullable(I), "daily_cost_usd": DOLLARS_IN,
        "weekly_cost_usd": DOLLARS_IN, "monthly_cost_usd": DOLLARS_IN,
        "balance_usd": DOLLARS_IN, "enabled": B, "budget_usd": DOLLARS_IN,
        "budget_duration": nullable({"oneOf": [S, I], "description": "Whole hours, 1h to 3650d: `12h`, `7d`, `30d`; needs budget_usd."}),
        "model_budgets": MODEL_BUDGETS_IN, **BINDING_IN,
    }),
    "UsageResetParts": obj({"parts": nullable({"type": "array", "items": {"type": "string", "enum": ["window", "daily", "tokens"]}})}),
    "SimulationProposal": obj({
        "since": {"type": "string", "description": "How far back: 7d (default), 24h, 90m."},
        "keys": {"type": "array", "items": {"type": "object", "description": "A key's settings as in the config file, with its name."}},
        "users": {"type": "array", "items": {"type": "object", "description": "A user's settings as in the config file, with its name."}},
        "groups": {"type": "array", "items": {"type": "object", "description": "A group's settings as in the config file, with its name."}},
        "prices": {"type": "object", "description": "Price overrides, as the config file's `prices`."},
    }),
    "Simulation": obj({
        "from": TIME, "to": TIME, "requests": I, "refused": I, "recorded_cost_usd": MONEY, "simulated_cost_usd": MONEY, "unknown_key_rows": I,
        "keys": {"type": "array", "items": obj({
            "key": S, "requests": I, "admitted": I, "queued": I, "refused": {"type": "object", "additionalProperties": I},
            "recorded_cost_usd": MONEY, "simulated_cost_usd": MONEY, "peak_concurrency": I,
        }, required=["key", "requests", "admitted", "queued", "refused", "recorded_cost_usd", "simulated_cost_usd", "peak_concurrency"])},
    }, required=["requests", "refused", "recorded_cost_usd", "simulated_cost_usd", "unknown_key_rows", "keys"]),
    "Capture": obj({"request": S, "request_truncated": B, "response": S, "response_truncated": B},
                   required=["request", "request_truncated", "response_truncated"]),
    "CreatedKey": obj({"api_key": {"type": "string", "description": "The key: shown this once."}, "key": ref("Key")}, required=["api_key", "key"]),
    "Stats": obj({
        "name": S, "kind": {"type": "string", "enum": ["key", "user", "group", "account"]}, "from": TIME, "to": TIME,
        "interval": {"type": "string", "enum": ["day", "hour", "minute"]},
        "requests": I, "errors": I, "rate_limited": I, "client_errors": I, "server_errors": I, "tokens": ref("TokenClasses"),
        "cost_usd": MONEY, "list_cost_usd": ref("ClassCosts"), "mean_latency_ms": I, "p95_latency_ms": I,
        "series": {"type": "array", "items": obj({
            "start": TIME, "requests": I, "errors": I, "rate_limited": I, "tokens": I, "cost_usd": MONEY, "mean_latency_ms": I, "p95_latency_ms": I,
        }, required=["start", "requests", "errors", "rate_limited", "tokens", "cost_usd"])},
        "models": {"type": "array", "items": obj({
            "model": S, "requests": I, "tokens": ref("TokenClasses"), "cost_usd": MONEY, "list_cost_usd": ref("ClassCosts"),
            "cache_hit_ratio": {"type": "number"}, "cache_saved_usd": MONEY,
        }, required=["model", "requests", "tokens", "cost_usd", "list_cost_usd", "cache_saved_usd"])},
        "last_429_at": TIME,
        "cache_hit_ratio": {"type": "number", "description": "Cache reads over all prompt tokens (uncached, read, written)."},
        "cache_saved_usd": {**MONEY, "description": "What cache reads saved against the same tokens uncached, at list price as each request was priced."},
    }, required=["name", "kind", "from", "to", "interval", "requests", "errors", "rate_limited", "client_errors", "server_errors",
                 "tokens", "cost_usd", "list_cost_usd", "series", "cache_saved_usd"]),
    "TokenClasses": obj({"input": I, "cache_read": I, "cache_write5m": I, "cache_write1h": I, "output": I, "total": I},
                        required=["input", "cache_read", "cache_write5m", "cache_write1h", "output", "total"]),
    "ClassCosts": obj({"input": MONEY, "cache_read": MONEY, "cache_write5m": MONEY, "cache_write1h": MONEY, "output": MONEY, "total": MONEY},
                      required=["input", "cache_read", "cache_write5m", "cache_write1h", "output", "total"]),
    "User": obj({"name": S, "group": S, "description": S, "balance_usd": MONEY, "ip_allow": {"type": "array", "items": S},
                 "ip_deny": {"type": "array", "items": S}, "concurrency": I, "max_waiting": I, "model_budgets": MODEL_BUDGETS,
                 "remaining_usd": MONEY, "spent_usd": MONEY, **BINDING}, required=["name", "spent_usd"]),
    "UserSettings": obj({"name": NAME, "group": nullable(S), "balance_usd": DOLLARS_IN, "description": nullable(S),
                         "ip_allow": nullable({"type": "array", "items": S}), "ip_deny": nullable({"type": "array", "items": S}),
                         "concurrency": nullable(I), "max_waiting": nullable(I), "model_budgets": MODEL_BUDGETS_IN, **BINDING_IN}),
    "Group": obj({"name": S, "multiplier": S, "price_multiplier": {"type": "object", "additionalProperties": S}, "subscription": obj({"daily_usd": MONEY, "weekly_usd": MONEY, "monthly_usd": MONEY}), **BINDING}, required=["name", "multiplier"]),
    "GroupSettings": obj({"name": NAME, "multiplier": MULTIPLIER_IN,
                          "price_multiplier": nullable({"type": "object", "description": "Multipliers per model glob, instead of `multiplier`.", "additionalProperties": MULTIPLIER_IN}),
                          "subscription": nullable(obj({"daily_usd": DOLLARS_IN, "weekly_usd": DOLLARS_IN, "monthly_usd": DOLLARS_IN})), **BINDING_IN}),
    "GatewayStats": obj({"unpriced_requests": I, "overrun_usd": MONEY, "unauthenticated_requests": I, "malformed_requests": I,
                         "alerts_delivered": I, "alert_dead_letters": I,
                         "upstream_out_of_descriptors": {"type": "integer", "description": "Upstream connections that could not be opened for want of file descriptors (answered 503, no account blamed)."}},
                        required=["unpriced_requests", "overrun_usd", "unauthenticated_requests", "malformed_requests",
                                  "alerts_delivered", "alert_dead_letters", "upstream_out_of_descriptors"]),
    "Request": obj({
        "request_id": S, "created_at": TIME, "key": S, "user": S, "account": S, "provider": S, "dialect": S, "model": S,
        "upstream_model": S, "status": I, "outcome": S, "error_code": S, "stream": B,
        "tokens": obj({"input": I, "cache_read": I, "cache_write5m": I, "cache_write1h": I, "output": I, "reasoning": I},
                      required=["input", "cache_read", "cache_write5m", "cache_write1h", "output", "reasoning"]),
        "cost_usd": MONEY, "upstream_cost_usd": MONEY, "priced": B, "usage_source": S, "usage_incomplete": B, "delivered_bytes": I,
        "latency_ms": I, "first_byte_ms": I, "upstream_ms": I, "attempts": I,
        "route": {"type": "array", "items": obj({"account": S, "reason": S}, required=["account", "reason"])},
        "selection": {"type": "string", "enum": ["session", "prefix", "ranked", "waited"]}, "client_address": S, "user_agent": S,
        "session": {"type": "string", "description": "The session as the gateway keys it (see /admin/sessions)."},
        "cache_saved_usd": MONEY,
    }, required=["request_id", "created_at", "dialect", "status", "outcome", "stream", "tokens", "cost_usd", "upstream_cost_usd", "route", "cache_saved_usd"]),
    "RequestPage": obj({"requests": {"type": "array", "items": ref("Request")}, "next_cursor": S}, required=["requests"]),
    "AuditEntry": obj({
        "id": I, "time": TIME, "who": {"type": "string", "description": "`admin_token:<fingerprint>` or `cli:<user>`."},
        "source": {"type": "string", "enum": ["api", "console", "cli"]}, "address": S,
        "action": {"type": "string", "description": "`key.create`, `account.disable`, `user.topup`, …"}, "target": S,
        "before": {"type": "object", "description": "The record before, as this API shows it; absent for a create."},
        "after": {"type": "object", "description": "The record after; absent for a delete."},
    }, required=["id", "time", "who", "source", "action", "target"]),
    "ReconciliationSide": obj({
        "requests": I, "input": I, "cache_read": I, "cache_write": I, "output": I, "tokens": I, "cost_usd": MONEY,
    }, required=["input", "cache_read", "cache_write", "output", "tokens"]),
    "ReconciliationLine": obj({
        "day": S, "model": S, "ledger": ref("ReconciliationSide"), "provider": ref("ReconciliationSide"),
        "drift_tokens": {"type": "integer", "description": "Ledger less provider."}, "drift_usd": MONEY,
        "drift_percent": {"type": "string", "description": "Token drift as a share of the provider's count, two decimals."},
    }, required=["day", "model", "ledger", "provider", "drift_tokens"]),
    "Reconciliation": obj({
        "provider": {"type": "string", "enum": ["openai", "anthropic"]}, "account": S, "from": S, "to": S, "created_at": TIME,
        "lines": {"type": "array", "items": ref("ReconciliationLine")}, "total": ref("ReconciliationLine"),
    }, required=["provider", "from", "to", "created_at", "lines", "total"]),
    "AuditPage": obj({"entries": {"type": "array", "items": ref("AuditEntry")}, "next_cursor": S}, required=["entries"]),
}

responses = {
    name: {"description": description, "content": {"application/json": {"schema": ref("Error")}}}
    for name, description in (
        ("Invalid", "The request is malformed, or a value is out of range."),
        ("Unauthorized", "The admin token is missing or wrong."),
        ("NotFound", "No such record (or the admin API is off: no admin_token)."),
        ("Conflict", "A record with that name exists, or others depend on it."),
        ("Throttled", "Too many failed admin logins from this address lately."),
        ("Unavailable", "The store or the upstream could not do it now."),
    )
}

ACCOUNT, KEY, USER, GROUP = path_name("account"), path_name("key"), path_name("user"), path_name("group")
ALIAS = path_name("model alias")
PROVIDER = {"name": "name", "in": "path", "required": True, "description": "The provider.", "schema": {"type": "string", "enum": ["openai", "anthropic", "gemini", "azure"]}}
paths = {
    "/admin/accounts": {
        "get": operation("Every account with its live state.", {"type": "array", "items": ref("Account")}, errors=("401", "404", "429", "503"), tag="accounts"),
        "post": operation("Create an account (`name`, `provider`, `api_key`, `models` required).", ref("Account"), status="201", body=ref("AccountSettings"), errors=("400", "401", "404", "409", "429", "503"), tag="accounts"),
    },
    "/admin/accounts/{name}": {
        "get": operation("One account.", ref("Account"), parameters=[ACCOUNT], tag="accounts"),
        "patch": operation("Change the given settings (`null` removes a cap); a new `base_url` needs `api_key` too.", ref("Account"), body=ref("AccountSettings"), parameters=[ACCOUNT], tag="accounts"),
        "delete": operation("Delete an account; its ledger rows stay.", status="204", parameters=[ACCOUNT], tag="accounts"),
    },
    "/admin/accounts/{name}/enable": {"post": operation("Enable; clears cooldown and health mark.", ref("Account"), parameters=[ACCOUNT], tag="accounts")},
    "/admin/accounts/{name}/disable": {"post": operation("Disable.", ref("Account"), parameters=[ACCOUNT], tag="accounts")},
    "/admin/accounts/{name}/test": {"post": operation("Send the account one minimal request.", ref("ProbeResult"), parameters=[ACCOUNT], tag="accounts")},
    "/admin/accounts/{name}/sync_models": {"post": operation("Fetch the models the upstream lists into the account's `model_list`.", ref("Account"), parameters=[ACCOUNT], tag="accounts")},
    "/admin/accounts/{name}/stats": {"get": operation("An account's totals and series (per minute for the last two days), errors by class, p95, and when it last saw a 429.", ref("Stats"), parameters=[ACCOUNT, *STATS_PARAMETERS], tag="accounts")},
    "/admin/keys": {
        "get": operation("Every key with its settings and live usage (never the key).", {"type": "array", "items": ref("Key")}, errors=("401", "404", "429", "503"), tag="keys"),
        "post": operation("Create a key; the answer holds the key, shown this once.", ref("CreatedKey"), status="201", body=ref("KeySettings"), errors=("400", "401", "404", "409", "429", "503"), tag="keys"),
    },
    "/admin/keys/{name}": {
        "get": operation("One key.", ref("Key"), parameters=[KEY], tag="keys"),
        "patch": operation("Change settings (`null` removes a limit).", ref("Key"), body=ref("KeySettings"), parameters=[KEY], tag="keys"),
        "delete": operation("Delete a key; its ledger rows stay.", status="204", parameters=[KEY], tag="keys"),
    },
    "/admin/keys/{name}/enable": {"post": operation("Enable a key.", ref("Key"), parameters=[KEY], tag="keys")},
    "/admin/keys/{name}/disable": {"post": operation("Disable a key.", ref("Key"), parameters=[KEY], tag="keys")},
    "/admin/keys/{name}/topup": {"post": operation("Add to a key's balance.", ref("Key"), body=AMOUNT, parameters=[KEY], tag="keys")},
    "/admin/keys/{name}/deduct": {"post": operation("Take from a key's balance (never more than remains).", ref("Key"), body=AMOUNT, parameters=[KEY], tag="keys")},
    "/admin/keys/{name}/reset_usage": {"post": operation("Start a key's rate window, today's cost and lifetime tokens again (or the parts named); an audited admin action.", ref("Key"), body=ref("UsageResetParts"), parameters=[KEY], tag="keys")},
    "/admin/keys/{name}/stats": {"get": operation("A key's totals and series, by model and token class, with mean and p95 latency.", ref("Stats"), parameters=[KEY, *STATS_PARAMETERS], tag="keys")},
    "/admin/users": {
        "get": operation("Every user with balance, what remains and what was spent.", {"type": "array", "items": ref("User")}, errors=("401", "404", "429", "503"), tag="users"),
        "post": operation("Create a user.", ref("User"), status="201", body=ref("UserSettings"), errors=("400", "401", "404", "409", "429", "503"), tag="users"),
    },
    "/admin/users/{name}": {
        "patch": operation("Change a user.", ref("User"), body=ref("UserSettings"), parameters=[USER], tag="users"),
        "delete": operation("Delete a user (refused while keys belong to it).", status="204", parameters=[USER], errors=("400", "401", "404", "409", "429", "503"), tag="users"),
    },
    "/admin/users/{name}/topup": {"post": operation("Add to a user's balance.", ref("User"), body=AMOUNT, parameters=[USER], tag="users")},
    "/admin/users/{name}/deduct": {"post": operation("Take from a user's balance.", ref("User"), body=AMOUNT, parameters=[USER], tag="users")},
    "/admin/users/{name}/stats": {"get": operation("A user's totals and series (every key of theirs).", ref("Stats"), parameters=[USER, *STATS_PARAMETERS], tag="users")},
    "/admin/groups": {
        "get": operation("Every group.", {"type": "array", "items": ref("Group")}, errors=("401", "404", "429", "503"), tag="groups"),
        "post": operation("Create a group.", ref("Group"), status="201", body=ref("GroupSettings"), errors=("400", "401", "404", "409", "429", "503"), tag="groups"),
    },
    "/admin/groups/{name}": {
        "patch": operation("Change a group.", ref("Group"), body=ref("GroupSettings"), parameters=[GROUP], tag="groups"),
        "delete": operation("Delete a group (refused while users belong to it).", status="204", parameters=[GROUP], errors=("400", "401", "404", "409", "429", "503"), tag="groups"),
    },
    "/admin/groups/{name}/stats": {"get": operation("A group's totals and series (every user in it now).", ref("Stats"), parameters=[GROUP, *STATS_PARAMETERS], tag="groups")},
    "/admin/quarantines": {
        "get": operation("Sessions and keys quarantined after an upstream flagged their account.", {"type": "array", "items": ref("Quarantine")}, errors=("401", "404", "429", "503"), tag="accounts"),
    },
    "/admin/quarantines/{name}/release": {
        "post": operation("Release a quarantine (its id): the session's or key's requests are served again.", ref("Quarantine"), parameters=[path_name("quarantine id")], tag="accounts"),
    },
    "/admin/models": {
        "get": operation("Every model alias.", {"type": "array", "items": ref("ModelAlias")}, errors=("401", "404", "429", "503"), tag="models"),
    },
    "/admin/models/{name}": {
        "put": operation("Create or replace a model alias.", ref("ModelAlias"), body=ref("ModelAliasSettings"), parameters=[ALIAS], errors=("400", "401", "404", "429", "503"), tag="models"),
        "delete": operation("Delete a model alias.", status="204", parameters=[ALIAS], tag="models"),
    },
    "/admin/providers": {
        "get": operation("Every provider with its settings.", {"type": "array", "items": ref("Provider")}, errors=("401", "404", "429", "503"), tag="models"),
    },
    "/admin/providers/{name}": {
        "put": operation("Set a provider's settings (`max_failovers`; null lifts the cap).", ref("Provider"), body=ref("ProviderSettings"), parameters=[PROVIDER], errors=("400", "401", "404", "429", "503"), tag="models"),
        "delete": operation("Forget a provider's settings.", status="204", parameters=[PROVIDER], errors=("401", "404", "429", "503"), tag="models"),
    },
    "/admin/sessions": {"get": operation(
        "Sessions among the requests the filters select (from a day ago unless `from` says), most recently active first: cache-hit ratio, cache tokens, the dollars cache reads saved.",
        ref("SessionPage"), tag="requests", errors=("400", "401", "404", "429", "503"), parameters=[
            query("from", S, "Start (inclusive): ISO 8601, a UTC date, or Unix seconds; default a day ago."),
            query("to", S, "End (exclusive), as `from`."),
            query("key", S, "Key name."), query("user", S, "User name."), query("account", S, "Account name."),
            query("model", S, "Model the client asked for."), query("session", S, "One session."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Sessions shown (default 50)."),
        ])},
    "/admin/stats": {"get": operation("Gateway counters.", ref("GatewayStats"), errors=("401", "404", "429"), tag="gateway")},
    "/admin/requests": {"get": operation(
        "The request explorer, newest first; a filter value that does not read is refused.", ref("RequestPage"), tag="requests",
        errors=("400", "401", "404", "429", "503"),
        parameters=[
            query("from", S, "Start (inclusive): ISO 8601, a UTC date, or Unix seconds."),
            query("to", S, "End (exclusive), as `from`."),
            query("key", S, "Key name."), query("user", S, "User name."), query("account", S, "Account name."),
            query("model", S, "Model the client asked for."), query("dialect", S, "The route's operation, e.g. `openai_chat`."),
            query("status", S, "A status (`429`) or class (`5xx`)."),
            query("outcome", {"type": "string", "enum": ["ok", "client_error", "refused", "no_account", "upstream_error", "client_disconnected", "cancelled", "warmup_intercepted", "title_intercepted", "interrupted"]}, "How requests ended."),
            query("request_id", S, "One request id."),
            query("session", S, "One session (as /admin/sessions names it)."),
            query("cursor", S, "The previous page's `next_cursor`."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Rows per page (default 50)."),
        ])},
    "/admin/requests/{id}": {"get": operation("One request's record.", ref("Request"), tag="requests", parameters=[
        {"name": "id", "in": "path", "required": True, "description": "The request id (`x-request-id`).", "schema": {"type": "string", "minLength": 1}}])},
    "/admin/policy/simulate": {"post": operation(
        "Replay the recorded requests against proposed keys, users, groups and prices (nothing is sent or written).", ref("Simulation"),
        body=ref("SimulationProposal"), tag="policy")},
    "/admin/requests/{id}/capture": {"get": operation(
        "A captured request's bodies (keys under `capture:`): truncated to `max_bytes`, redacted, opened with the master key.", ref("Capture"),
        errors=("400", "401", "404", "409", "429", "503"), tag="requests", parameters=[
            {"name": "id", "in": "path", "required": True, "description": "The request id (`x-request-id`).", "schema": {"type": "string", "minLength": 1}}])},
    "/admin/reconciliation": {"get": operation(
        "The last reconciliation (`switchboard reconcile`): the ledger against a provider's export by day and model; 404 before the first.",
        ref("Reconciliation"), tag="gateway", errors=("401", "404", "429", "503"))},
    "/admin/audit": {"get": operation(
        "Admin actions (API, console, CLI), newest first, with each record before and after; never a secret.", ref("AuditPage"),
        tag="audit", errors=("400", "401", "404", "429", "503"),
        parameters=[
            query("from", S, "Start (inclusive): ISO 8601, a UTC date, or Unix seconds."),
            query("to", S, "End (exclusive), as `from`."),
            query("action", S, "An action (`key.update`) or a kind of record (`key`)."),
            query("target", S, "A record's name."),
            query("source", S, "`api`, `console` or `cli`."),
            query("cursor", S, "The previous page's `next_cursor`."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Entries per page (default 100)."),
        ])},
    "/admin/openapi.json": {"get": {"summary": "This document.", "tags": ["gateway"], "security": [],
                                    "responses": {"200": answer({"type": "object"})}}},
}

document = {
    "openapi": "3.1.0",
    "info": {"title": "Switchboard admin API", "version": "1",
             "description": "Accounts, keys, users, groups, the request explorer and gateway counters. Off until `admin_token` is set; "
                            "every call but this document's needs `Authorization: Bearer <admin_token>`. Money is an exact decimal string of dollars.",
             "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
    "servers": [{"url": "/"}],
    "security": [{"adminToken": []}],
    "tags": [{"name": n} for n in ("accounts", "keys", "users", "groups", "models", "requests", "policy", "audit", "gateway")],
    "paths": paths,
    "components": {"schemas": schemas, "responses": responses,
                   "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "The `admin_token` setting."}}},
}


def outputs():
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if '"""#' in text:
        sys.exit("the document holds the raw string's delimiter")
    # Indented as swift-format wants it; a multi-line literal drops the closing delimiter's indentation.
    indented = "".join(("        " + line if line else line) + "\n" for line in text.splitlines())
    swift = ("// Generated by scripts/admin-openapi.py (the document's source): do not edit.\n\n"
             "/// The admin API's OpenAPI 3.1 document, served at `GET /admin/openapi.json`.\n"
             "enum AdminOpenAPI {\n    static let json = #\"\"\"\n" + indented + "        \"\"\"#\n}\n")
    return text, swift


def main():
    text, swift = outputs()
    if sys.argv[1:] == ["--check"]:
        stale = [str(p) for p, want in ((JSON_PATH, text), (SWIFT_PATH, swift)) if not p.exists() or p.read_text() != want]
        if stale:
            sys.exit("out of date (run scripts/admin-openapi.py): " + ", ".join(stale))
        return
    JSON_PATH.write_text(text)
    SWIFT_PATH.write_text(swift)
    print(f"wrote {JSON_PATH.relative_to(ROOT)} and {SWIFT_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
