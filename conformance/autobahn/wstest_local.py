"""Run wstest with every listening socket bound to 127.0.0.1.

wstest's fuzzingserver listens on all interfaces whatever host its spec's url
names. This wrapper patches the Twisted reactor's listenTCP and listenSSL so
that every listen call binds the loopback interface, then runs wstest's main
with the given arguments (Python 2.7 / PyPy 2.7).

Environment: WSTEST_LISTEN_INTERFACE overrides the interface (default
127.0.0.1).
"""

import os
import sys

from twisted.internet import posixbase

__all__ = ["LISTEN_INTERFACE", "bind_listeners", "main"]

LISTEN_INTERFACE = os.environ.get("WSTEST_LISTEN_INTERFACE", "127.0.0.1")


def _bound(method_name):
    original = getattr(posixbase.PosixReactorBase, method_name)

    def listen(self, port, factory, *args, **kwargs):
        kwargs.pop("interface", None)
        # listenTCP(port, factory, backlog, interface) and
        # listenSSL(port, factory, contextFactory, backlog, interface)
        positional = 1 if method_name == "listenTCP" else 2
        args = args[:positional]
        return original(
            self, port, factory, *args, interface=LISTEN_INTERFACE, **kwargs
        )

    listen.__name__ = method_name
    return listen


def bind_listeners():
    """Make every reactor listen call bind LISTEN_INTERFACE."""
    for name in ("listenTCP", "listenSSL"):
        setattr(posixbase.PosixReactorBase, name, _bound(name))


def main(argv=None):
    bind_listeners()
    from autobahntestsuite import wstest

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["wstest"]
    sys.argv.extend(args)
    sys.stdout.write("wstest_local: listening on " + LISTEN_INTERFACE + " only\n")
    sys.stdout.flush()
    return wstest.run()


if __name__ == "__main__":
    sys.exit(main())
