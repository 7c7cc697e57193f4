"""The OpenAPI suite's fixtures: a gateway of its own (tests/sdk_gateway.py's
setup, with a login throttle Schemathesis cannot trip: it sends requests
without the token on purpose)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
