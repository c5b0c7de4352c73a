# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-close-connection-explicit-asyncio): do not edit.

from wskit.threading import connect


def main():
    websocket = connect("ws://example.com/")
    websocket.send("Hello")
    print(websocket.recv())
    websocket.close()


main()
