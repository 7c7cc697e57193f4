"""The console tests' fixtures: the shared gateway (tests/sdk_gateway.py) and a
headless Chromium driven by Selenium through Debian's chromium-driver."""
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sdk_gateway import ADMIN_TOKEN, KEY, OPENAI_SECRET, ANTHROPIC_SECRET, GEMINI_SECRET, gateway  # noqa: E402,F401


@pytest.fixture(scope="session")
def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
