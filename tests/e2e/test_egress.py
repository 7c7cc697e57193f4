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


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_a_proxy_with_a_password_gets_it_and_admins_never_see_it(gateway, kind):
    proxy = Proxy(kind, auth=("gateway", "pa ss:word"))
    try:
        url = proxy.url.replace("://", "://gateway:pa%20ss%3Aword@")
        created = add_account(gateway, f"login-{kind}", "openai", [f"login-{kind}"], proxy=url)
        assert created["proxy"] == proxy.url.replace("://", "://gateway@") and "word" not in str(created)
        client = new_key(gateway, f"login-key-{kind}")
        assert client.chat.completions.create(model=f"login-{kind}", messages=MESSAGES, max_tokens=16).choices[0].message.content
        assert proxy.destinations and proxy.refused == 0
        # The same proxy written back without its password (as admins see it) keeps the stored one.
        status, kept = admin(gateway, "PATCH", f"/accounts/login-{kind}", {"proxy": created["proxy"], "api_key": OPENAI_SECRET})
        assert status == 200 and kept["proxy"] == created["proxy"]
        assert client.chat.completions.create(model=f"login-{kind}", messages=MESSAGES, max_tokens=16).choices[0].message.content
        # A wrong password: the proxy refuses the tunnel, and the request fails without reaching the upstream.
        wrong = proxy.url.replace("://", "://gateway:wrong@")
        assert admin(gateway, "PATCH", f"/accounts/login-{kind}", {"proxy": wrong, "api_key": OPENAI_SECRET})[0] == 200
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model=f"login-{kind}", messages=MESSAGES, max_tokens=16)
        assert caught.value.status_code >= 500 and proxy.refused >= 1
    finally:
        proxy.close()


def test_a_proxy_change_needs_the_accounts_key_and_a_readable_proxy(gateway):
    add_account(gateway, "proxy-guarded", "openai", ["proxy-guarded"])
    status, refused = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": "http://127.0.0.1:9"})
    assert status == 400 and "api_key" in refused["error"]["message"]
    for bad in ("ftp://127.0.0.1:21", "socks5://127.0.0.1", "http://127.0.0.1:8080/path", "http://:pw@127.0.0.1:8080"):
        status, _ = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": bad, "api_key": OPENAI_SECRET})
        assert status == 400, bad
    status, changed = admin(gateway, "PATCH", "/accounts/proxy-guarded", {"proxy": "direct", "api_key": OPENAI_SECRET})
    assert status == 200 and changed["proxy"] == "direct"
