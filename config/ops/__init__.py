"""Operating the platform: request ids and structured logs, health probes, metrics (an app,
label "ops"). docs/operations.md says how to read what these expose."""
