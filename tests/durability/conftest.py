"""Process-level durability tests: the real `switchboard` binary, killed,
stopped, starved of disk and locked out of its database, with a fake provider
on loopback.

Each test gets gateways of its own (their own data directory and config), so a
test that kills or breaks one cannot disturb another. Nothing here asserts a
duration: every wait is for an event, bounded generously, and every loop ends.
"""
import subprocess

import pytest

from durability_harness import ADMIN_TOKEN, BIN, KEY, UPSTREAM_SECRET, Lab, Output


@pytest.fixture(scope="session")
def fake_port():
    fake = subprocess.Popen(
        [str(BIN / "fake-upstream"), "0", UPSTREAM_SECRET],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Output(fake)
    port = int(output.wait_for(r"listening (\d+)", fake).group(1))
    yield port
    fake.terminate()
    try:
        fake.wait(timeout=10)
    except subprocess.TimeoutExpired:
        fake.kill()
        fake.wait(timeout=10)


@pytest.fixture
def lab(fake_port):
    lab = Lab(fake_port)
    try:
        yield lab
    finally:
        lab.close()
    for gateway in lab.gateways:
        logged = gateway.log()
        for secret in (KEY, UPSTREAM_SECRET, ADMIN_TOKEN):
            assert secret not in logged, "a secret was logged"
