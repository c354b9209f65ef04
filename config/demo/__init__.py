"""Demo and benchmark data: the top of the house. It may import every app; nothing imports it.

`manage.py seed_demo` fills the three demo organizations for `make run`; `manage.py
seed_benchmark` writes a large history for the query plans and the benchmarks.
"""
