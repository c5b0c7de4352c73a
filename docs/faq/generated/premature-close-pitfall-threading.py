# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-premature-close-pitfall-asyncio): do not edit.

from wskit.threading import connect


def main():
    with connect("ws://example.com/") as websocket:
        websocket.send("Hello")
    # The connection is closed here: the server's reply is never read.


main()
