# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-reconnect-asyncio): do not edit.

from wskit.threading import ConnectionClosed, connect


def main():
    for websocket in connect("ws://example.com/"):
        try:
            for message in websocket:
                print(message)
        except ConnectionClosed:
            continue


main()
