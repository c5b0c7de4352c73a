# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-access-headers-asyncio): do not edit.

from wskit.threading import connect


def main():
    with connect("ws://example.com/") as websocket:
        # Headers sent in the opening handshake request.
        print(websocket.request.headers["Host"])
        # Headers received in the opening handshake response.
        print(websocket.response.headers["Server"])


main()
