"""What every Python suite needs to run the gateway binary: where it is, and a
reader of a child process's output. Each suite's conftest puts this directory
on sys.path and imports from here."""
import os
import re
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("SWITCHBOARD_BIN_DIR", ROOT / ".build" / "debug"))


class Output:
    """Collects a process's output on a thread, so a full pipe never blocks it."""

    def __init__(self, process):
        self.lines = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process):
        for line in process.stdout:
            with self._lock:
                self.lines.append(line)

    def search(self, pattern, start=0):
        """The first match of `pattern` in a line from `start` on, or None."""
        with self._lock:
            lines = self.lines[start:]
        for line in lines:
            match = re.search(pattern, line)
            if match:
                return match
        return None

    def wait_for(self, pattern, process=None, timeout=60.0, start=0):
        """Waits (a generous bound) for a line matching `pattern`; fails early
        when `process` exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = self.search(pattern, start)
            if match:
                return match
            if process is not None and process.poll() is not None:
                self.thread.join(timeout=5)
                match = self.search(pattern, start)
                if match:
                    return match
                raise RuntimeError(f"process exited ({process.returncode}) before {pattern!r}:\n" + self.text()[-5000:])
            time.sleep(0.05)
        raise RuntimeError(f"no {pattern!r} within {timeout}s:\n" + self.text()[-5000:])

    def text(self, finished=False):
        """Everything read so far; with `finished`, after the process's last line."""
        if finished:
            self.thread.join(timeout=10)
        with self._lock:
            return "".join(self.lines)
