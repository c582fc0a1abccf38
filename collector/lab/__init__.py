"""Lab equipment, never run in production: the RouterOS simulator, the local stack of real
mosquitto and influxd on free ports, the secure broker built from the project's own PKI, and
the demo. Tests, benchmarks and `pantau demo` share it."""
