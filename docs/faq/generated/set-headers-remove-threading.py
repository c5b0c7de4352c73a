# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-set-headers-remove-asyncio): do not edit.

from wskit.threading import connect


def main():
    with connect(
        "ws://example.com/",
        user_agent_header=None,
        compression=None,
    ) as websocket:
        websocket.send("Hello")
        print(websocket.recv())


main()
