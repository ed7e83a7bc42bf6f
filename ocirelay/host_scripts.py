"""Scripts the roles run ON the managed hosts, shipped as source (nothing is installed there).

Each is a single file that needs only Python's standard library, down to Python 3.6 (Oracle
Linux 8's platform-python): the roles run it with `python3 -c SOURCE ARGS...` and pass secrets on
its stdin. The CLI can import the same modules to run them locally.
"""

from __future__ import annotations

from importlib import resources

HOST_SCRIPTS = {
    "smtp_probe": "smtp_probe.py",  # preflight: log in to the endpoint, send nothing
    "send_test": "send_test.py",  # send one message through the local Postfix, read the log
    "file_state": "file_state.py",  # mode, owner, mtime and sha1 of many files in one call
}


def source(name: str) -> str:
    """The source text of the host script `name`."""
    try:
        filename = HOST_SCRIPTS[name]
    except KeyError:
        raise ValueError(f"unknown host script {name!r}: one of {', '.join(HOST_SCRIPTS)}") \
            from None
    return resources.files("ocirelay").joinpath(filename).read_text(encoding="utf-8")
