"""Active capacity tests and ping bursts from the edge.

Capacity comes only from active tests, never from passive counters (counters show demand).
Methods: iperf3 and HTTP against `pantau speedtest-server`, and RouterOS' own bandwidth-test
and speed-test through the API. `schedule` decides when (pure), `worker` runs a point's tests
beside its sampler (`link` is what it needs from the point), and `pantau agent speedtest` runs
one test now (agent/speedtest_cli.py).
"""
