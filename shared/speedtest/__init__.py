"""The speed-test HTTP endpoint: its contract (shared by the agent's client and the server) and
the NOC's server that serves it beside iperf3."""
