"""How fast the test server's HTTP endpoint and iperf3 go on loopback, unshaped: the ceiling a
`pantau speedtest-server` sets before any link does, and how many 50 Mbit/s tests one server
carries at once.

1. `pantau speedtest-server` on free loopback ports (a real process).
2. One HTTP test (4 streams, down and up) and one iperf3 test (4 streams, down and up), 3 s each
   way after 1 s omitted; then 4 HTTP tests at once (16 streams), their sum.
Last line: one JSON object.   .venv/bin/python bench/capacity_endpoint.py
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pantau.agent.capacity.config import HttpMethod, Iperf3Method  # noqa: E402
from pantau.agent.capacity.http import HttpTest  # noqa: E402
from pantau.agent.capacity.iperf3 import Iperf3Test  # noqa: E402
from pantau.agent.capacity.result import Measurement  # noqa: E402
from tests.pipeline import Proc  # noqa: E402

SECONDS, OMIT = 3, 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    import tempfile

    http_port, iperf_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = Proc(
            [
                "speedtest-server",
                "--bind",
                "127.0.0.1",
                "--http-port",
                str(http_port),
                "--iperf3-ports",
                str(iperf_port),
            ],
            Path(tmp) / "server.log",
        )
        server.start().wait_log("ready", 15)
        try:
            url = f"http://127.0.0.1:{http_port}"
            http = HttpTest(HttpMethod(kind="http", url=url, duration_s=SECONDS, omit_s=OMIT))
            one_http = http.measure()
            iperf_cfg = Iperf3Method(
                kind="iperf3", host="127.0.0.1", ports=[iperf_port], duration_s=SECONDS, omit_s=OMIT
            )
            iperf = Iperf3Test(iperf_cfg).measure()
            results: list[Measurement] = []
            threads = [
                threading.Thread(target=lambda: results.append(http.measure())) for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            server.stop()
    together_down = sum(r.down_mbps or 0.0 for r in results)
    together_up = sum(r.up_mbps or 0.0 for r in results)
    figures = {
        "http_down_mbps": one_http.down_mbps,
        "http_up_mbps": one_http.up_mbps,
        "iperf3_down_mbps": iperf.down_mbps,
        "iperf3_up_mbps": iperf.up_mbps,
        "http_4_tests_down_mbps": round(together_down, 1),
        "http_4_tests_up_mbps": round(together_up, 1),
        "concurrent_50mbps_tests_http": int(min(together_down, together_up) // 50),
        "errors": [e for r in [one_http, iperf, *results] for e in r.errors],
    }
    print(f"one HTTP test:   down {one_http.down_mbps} Mbps, up {one_http.up_mbps} Mbps")
    print(f"one iperf3 test: down {iperf.down_mbps} Mbps, up {iperf.up_mbps} Mbps")
    print(f"4 HTTP tests at once: down {together_down:.1f} Mbps, up {together_up:.1f} Mbps")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
