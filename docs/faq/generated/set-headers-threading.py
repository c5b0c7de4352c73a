# Generated from docs/faq/client.rst by: python -m conformance.faq generate
# (rule translation of faq-set-headers-asyncio): do not edit.

from wskit.core.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
)
from wskit.threading import connect


def main():
    with connect(
        "ws://example.com/",
        origin="https://example.com",
        extensions=[ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        subprotocols=["chat"],
        user_agent_header="my-client/1.0",
        additional_headers={"Authorization": "Bearer 2b7e151628aed2a6"},
    ) as websocket:
        print(websocket.subprotocol)


main()
