# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-force-ip-asyncio): do not edit.

from wskit.threading import connect


def main():
    with connect("wss://example.com/", host="192.0.2.1") as websocket:
        print(websocket.recv())


main()
