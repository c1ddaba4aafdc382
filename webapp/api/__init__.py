"""REST API wiring: routes, the one JSON error shape, pagination, schema and docs."""
