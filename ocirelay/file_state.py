"""Report the state of files on a managed host in one go: exists, mode, owner, group, mtime, sha1.

Runs ON THE TARGET HOST with Python's standard library only (3.6+), like smtp_probe.py:

    python3 file_state.py PATH...

One JSON object {path: {...}} goes to stdout. Read-only, and never prints a file's content (the
credential map is hashed, not shown), so the roles learn in one call what `ansible.builtin.stat`
would need one call per file for.
"""

import grp
import hashlib
import json
import os
import pwd
import sys


def name_of(lookup, number):
    # type: (object, int) -> str
    try:
        return lookup(number)[0]  # type: ignore[operator,no-any-return]
    except KeyError:
        return str(number)


def state(path):
    # type: (str) -> dict
    try:
        info = os.stat(path)
    except OSError:
        return {"exists": False}
    result = {"exists": True, "mode": f"{info.st_mode & 0o7777:04o}",
              "owner": name_of(pwd.getpwuid, info.st_uid),
              "group": name_of(grp.getgrgid, info.st_gid),
              "mtime": info.st_mtime, "is_file": os.path.isfile(path)}
    if result["is_file"]:
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                digest.update(chunk)
        result["checksum"] = digest.hexdigest()
    return result


def main(argv=None):
    # type: (list[str] | None) -> int
    paths = sys.argv[1:] if argv is None else argv
    print(json.dumps({path: state(path) for path in paths}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
