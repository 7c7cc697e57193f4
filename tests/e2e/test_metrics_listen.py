"""`metrics_listen`: /metrics on an address of its own, and only there."""
import signal
import subprocess
import urllib.error
import urllib.request

from gateway_process import BIN, Output


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_metrics_are_served_on_their_own_listener_and_not_on_the_gateways(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text(f"""
listen: 127.0.0.1:0
metrics_listen: 127.0.0.1:0
database: sqlite:{tmp_path}/data/switchboard.db
""")
    process = subprocess.Popen([str(BIN / "switchboard"), "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    output = Output(process)
    try:
        port = int(output.wait_for(r"switchboard listening address=127\.0\.0\.1:(\d+)", process).group(1))
        metrics_port = int(output.wait_for(r"metrics listening address=127\.0\.0\.1:(\d+)", process).group(1))
        assert metrics_port != port
        status, body = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200 and "switchboard_build_info" in body and "switchboard_requests_in_flight" in body
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 404 and "metrics_listen" in body
        assert get(f"http://127.0.0.1:{metrics_port}/health")[0] == 404  # nothing else on the metrics address
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, output.text(finished=True)[-3000:]
