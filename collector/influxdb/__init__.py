"""Everything that speaks to InfluxDB: the client (writes in both dialects, chunked InfluxQL
reads), line protocol with Pantau's own escaping, and the one quoting helper every InfluxQL
query is built with."""
