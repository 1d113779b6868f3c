"""RabbitMQ virtual hosts for runs on this machine: `make run`, each test session and
each benchmark get their own, so they never see each other's messages (DESIGN §6).

Created and removed with `rabbitmqctl` (the local broker that `make up` manages); a URL
that already names a virtual host of its own is left as it is.

    python deploy/local/vhosts.py create NAME   # prints the URL with that virtual host
    python deploy/local/vhosts.py delete NAME
    python deploy/local/vhosts.py prune PREFIX  # remove leftovers of killed runs
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _ctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if not os.path.exists(ctl):
        raise RuntimeError(
            "rabbitmqctl is not installed: a separate RabbitMQ virtual host per run needs the "
            "local broker that `make up` installs and starts"
        )
    done = subprocess.run(  # noqa: S603 - fixed program, arguments from this module
        [ctl, "--quiet", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def names() -> list[str]:
    """The broker's virtual hosts."""
    return _ctl("list_vhosts", "name").split()


def create(vhost: str, url: str = DEFAULT_URL) -> str:
    """Make `vhost` (if missing), let the URL's user use it; the URL that names it.

    A URL that names a virtual host other than the default one is returned unchanged."""
    if vhost_of(url) != "/":
        return url
    if vhost not in names():
        _ctl("add_vhost", vhost)
    user = unquote(urlsplit(url).username or "guest")
    _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return with_vhost(url, vhost)


def delete(vhost: str) -> None:
    """Remove `vhost` with its queues and exchanges (never the default one)."""
    if vhost != "/" and vhost in names():
        _remove(vhost)


def _remove(vhost: str) -> None:
    """Lock the virtual host, close its connections, then delete it. Deleting a virtual host
    that a leftover process keeps reconnecting to wedged RabbitMQ 3.10 (its vhost supervisor
    restarted in a loop; every later `add_vhost` hung until the broker was wiped): with the
    permissions gone first, a reconnection is refused instead."""
    for user in _users_of(vhost):
        _ctl("clear_permissions", "-p", vhost, user)
    _ctl("close_all_connections", "-p", vhost, "virtual host deleted")
    _ctl("delete_vhost", vhost)


def _users_of(vhost: str) -> list[str]:
    rows = _ctl("list_permissions", "-p", vhost, "--no-table-headers").splitlines()
    return [row.split("\t")[0] for row in rows if row.strip()]


def prune(prefix: str) -> list[str]:
    """Remove every virtual host whose name starts with `prefix` (killed runs' leftovers)."""
    gone = [v for v in names() if v.startswith(prefix)]
    for vhost in gone:
        _remove(vhost)
    return gone


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("create", "delete", "prune"):
        print(__doc__, file=sys.stderr)
        return 2
    command, name = argv
    if command == "create":
        print(create(name, os.environ.get("SECMONKEY_AMQP_URL", DEFAULT_URL)))
    elif command == "delete":
        delete(name)
    else:
        print(" ".join(prune(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
