"""The ceiling: the smallest ASGI app that answers, served exactly as the store is."""


async def app(scope, receive, send):  # type: ignore[no-untyped-def]  # five lines on purpose
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"ok":true}'})
