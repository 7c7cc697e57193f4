"""Egress through a proxy: an account whose requests go through a CONNECT proxy
or a SOCKS5 proxy on loopback (tests/e2e/proxies.py), with the official SDK
streaming through it; a proxy change needs the account's key, as a base_url
change does."""
import openai
import pytest

from conftest import OPENAI_SECRET
from proxies import Proxy
from test_budget_shapes import MESSAGES, admin, new_key
from test_routing import add_account, fake_root


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_an_accounts_requests_go_through_its_proxy(gateway, kind):
    proxy = Proxy(kind)
    try:
        add_account(gateway, f"proxied-{kind}", "openai", [f"proxied-{kind}"], proxy=proxy.url)
        client = new_key(gateway, f"proxy-key-{kind}")
        answer = client.chat.completions.with_raw_response.create(model=f"proxied-{kind}", messages=MESSAGES, max_tokens=16)
        assert gateway.ledger_row(answer.headers["x-request-id"])["account_name"] == f"proxied-{kind}"
        chunks = list(client.chat.completions.create(model=f"proxied-{kind}", messages=MESSAGES, max_tokens=16, stream=True))
        assert any(chunk.choices and chunk.choices[0].delta.content for chunk in chunks)
        fake_port = int(fake_root(gateway).rsplit(":", 1)[1])
        assert proxy.destinations and set(proxy.destinations) == {("127.0.0.1", fake_port)}
    finally:
        proxy.close()


def test_a_proxy_change_needs_the_accounts_key_and_a_readable_proxy(gateway):
    add_account(gateway, "proxy-guarded", "openai", ["proxy-guarded"])
    status, refused = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": "http://127.0.0.1:9"})
    assert status == 400 and "api_key" in refused["error"]["message"]
    for bad in ("ftp://127.0.0.1:21", "http://user:pass@127.0.0.1:8080", "socks5://127.0.0.1", "http://127.0.0.1:8080/path"):
        status, _ = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": bad, "api_key": OPENAI_SECRET})
        assert status == 400, bad
    status, changed = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": "direct", "api_key": OPENAI_SECRET})
    assert status == 200 and changed["proxy"] == "direct"
