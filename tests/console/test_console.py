"""The admin console in a real browser (headless Chromium, Selenium): signing
in, creating a key, a request made with the OpenAI SDK showing in the request
explorer, disabling the key, and a form post without its CSRF token refused."""
import httpx
import openai
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ADMIN_TOKEN, ANTHROPIC_SECRET, GEMINI_SECRET, KEY, OPENAI_SECRET


def wait(browser):
    """Waits for an event with a generous bound (never asserts a duration). A
    form post replaces the page: an element read as the old document goes is
    stale (or, in Chrome, "does not belong to the document"), so the wait looks again."""
    return WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, WebDriverException))


def button(browser, label):
    """The button a person would press: found by its visible label."""
    return browser.find_element(By.XPATH, f"//button[normalize-space()='{label}']")


def field(browser, label):
    """A form field found through its <label>, as a screen reader would."""
    target = browser.find_element(By.XPATH, f"//label[normalize-space()='{label}']").get_attribute("for")
    return browser.find_element(By.ID, target)


def every_field_is_labelled(browser):
    for element in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select"):
        ident = element.get_attribute("id")
        assert ident and browser.find_elements(By.CSS_SELECTOR, f"label[for='{ident}']"), f"unlabelled field {element.get_attribute('name')}"


def sign_in(browser, gateway):
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/login")
    browser.delete_all_cookies()
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/")
    wait(browser).until(ready.title_contains("Sign in"))
    every_field_is_labelled(browser)
    field(browser, "Admin token").send_keys(ADMIN_TOKEN)
    button(browser, "Sign in").click()
    wait(browser).until(ready.title_contains("Dashboard"))


def test_a_wrong_token_does_not_sign_in(browser, gateway):
    browser.delete_all_cookies()
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/login")
    field(browser, "Admin token").send_keys("not-the-token")
    button(browser, "Sign in").click()
    wait(browser).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=status]"), "not the admin token"))
    assert not browser.get_cookies()


def test_key_created_in_the_console_serves_shows_in_the_explorer_and_stops_when_disabled(browser, gateway):
    sign_in(browser, gateway)
    cookie = next(c for c in browser.get_cookies() if c["name"] == "sb_console")
    assert cookie["httpOnly"] and cookie.get("sameSite") == "Strict"

    # Create a key; its secret is on this page once.
    browser.find_element(By.LINK_TEXT, "Keys").click()
    wait(browser).until(ready.title_contains("Keys"))
    every_field_is_labelled(browser)
    field(browser, "Name").send_keys("console-key")
    field(browser, "Concurrent requests").send_keys("3")
    button(browser, "Create").click()
    wait(browser).until(ready.title_contains("Key created"))
    secret = field(browser, "New key for console-key").get_attribute("value")
    assert secret.startswith("sk-")
    button(browser, "Copy").click()  # the page's one script runs without error
    wait(browser).until(lambda b: button(b, "Copied"))

    # The key works with the official OpenAI SDK.
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=secret, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    request_id = raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content

    # The request shows in the explorer, filtered by key, and opens to its record.
    browser.find_element(By.LINK_TEXT, "Requests").click()
    wait(browser).until(ready.title_contains("Requests"))
    every_field_is_labelled(browser)
    field(browser, "Key").send_keys("console-key")
    button(browser, "Filter").click()
    # The unfiltered page lists the request too: wait for the filtered one before following its link.
    wait(browser).until(lambda b: "key=console-key" in b.current_url and b.find_elements(By.LINK_TEXT, request_id))
    wait(browser).until(lambda b: b.find_element(By.LINK_TEXT, request_id).click() or True)
    # "Requests", the explorer's title, contains "Request": wait for the record itself.
    wait(browser).until(lambda b: b.find_element(By.ID, "request-status").text == "200")
    page = browser.page_source
    assert "openai-1" in page and "gpt-4o-mini" in page and "python" in page.lower()  # the SDK's User-Agent

    # The key's page shows the request; the key is never shown again.
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/keys/console-key")
    wait(browser).until(lambda b: b.find_elements(By.LINK_TEXT, request_id))
    assert secret not in browser.page_source
    button(browser, "Disable").click()
    wait(browser).until(ready.text_to_be_present_in_element((By.ID, "key-state"), "disabled"))
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    # A form post without the CSRF token, with the session's cookie, changes nothing.
    refused = httpx.post(
        f"http://127.0.0.1:{gateway.port}/admin/ui/keys/console-key/enable",
        cookies={"sb_console": cookie["value"]}, data={"confirm": "yes"}, follow_redirects=False)
    assert refused.status_code == 403
    browser.refresh()
    assert browser.find_element(By.ID, "key-state").text == "disabled"

    # Nothing secret on the pages an admin visits.
    for path in ("/", "/accounts", "/accounts/openai-1", "/keys", "/requests", "/usage", "/users"):
        browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui{path}")
        every_field_is_labelled(browser)
        for secret_value in (OPENAI_SECRET, ANTHROPIC_SECRET, GEMINI_SECRET, ADMIN_TOKEN, KEY, secret):
            assert secret_value not in browser.page_source, f"a secret is shown on {path}"


def test_dashboard_and_usage_report_count_the_traffic(browser, gateway):
    sign_in(browser, gateway)
    client = openai.OpenAI(base_url=gateway.openai_base, api_key=KEY, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/?period=1h")
    assert int(browser.find_element(By.ID, "total-requests").text) >= 1
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    browser.get(f"http://127.0.0.1:{gateway.port}/admin/ui/usage?by=model")
    assert "gpt-4o-mini" in browser.page_source
    cookie = next(c for c in browser.get_cookies() if c["name"] == "sb_console")
    csv = httpx.get(f"http://127.0.0.1:{gateway.port}/admin/ui/usage.csv?by=key", cookies={"sb_console": cookie["value"]})
    assert csv.status_code == 200 and csv.text.startswith("key,requests,errors")
    assert "e2e," in csv.text


def test_signing_out_ends_the_session(browser, gateway):
    sign_in(browser, gateway)
    cookie = next(c for c in browser.get_cookies() if c["name"] == "sb_console")
    button(browser, "Sign out").click()
    wait(browser).until(ready.title_contains("Sign in"))
    # The old cookie no longer opens a page.
    after = httpx.get(f"http://127.0.0.1:{gateway.port}/admin/ui/keys", cookies={"sb_console": cookie["value"]}, follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].endswith("/admin/ui/login")
