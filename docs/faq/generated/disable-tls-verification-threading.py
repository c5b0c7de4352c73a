# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-disable-tls-verification-asyncio): do not edit.

import ssl

from wskit.threading import connect

# Insecure: the server's identity is not checked.
ssl_context = ssl.create_default_context()
ssl_context.check_hostname = False
ssl_context.verify_mode = ssl.CERT_NONE


def main():
    with connect("wss://example.com/", ssl=ssl_context) as websocket:
        print(websocket.recv())


main()
