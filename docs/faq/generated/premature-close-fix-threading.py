# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-premature-close-fix-asyncio): do not edit.

from wskit.threading import connect


def main():
    with connect("ws://example.com/") as websocket:
        websocket.send("Hello")
        reply = websocket.recv()
        print(reply)


main()
