"""An embedded PostgreSQL for a machine with no DATABASE_URL configured.

`make run` and `make test` must work on a fresh clone with only Python installed, so when no
database is configured we start the PostgreSQL bundled in the `pgserver` package. Its data lives
in a git-ignored folder and the server is left running (cleanup_mode=None), so later runs, the
autoreloader's child processes and test sessions all reuse one server instead of starting their
own. It is plain PostgreSQL 16 without contrib extensions, which is why no migration may need one.
"""

import warnings
from pathlib import Path


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded server and return a DATABASE_URL for it."""
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR on headless machines; harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: deployments with DATABASE_URL never load it

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir, cleanup_mode=None)
    # "postgresql://postgres:@/postgres?host=<data dir>": a Unix socket, no TCP port to clash on.
    return server.get_uri()
