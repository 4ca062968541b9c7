"""``/docs`` and ``/redoc`` render the interactive API docs offline: the browser is cut off from every host
but the server, and both pages still build their operation lists."""

from __future__ import annotations

from live_server import LiveServer

from glassbox.server.app import create_app


def test_api_docs_render_offline(store_url, page):
    with LiveServer(create_app(store_url)) as srv:
        outside: list[str] = []

        def offline(route) -> None:  # type: ignore[no-untyped-def]
            if route.request.url.startswith(srv.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        page.goto(f"{srv.url}/docs")
        page.wait_for_selector(".opblock-tag", timeout=20_000)  # Swagger UI built the operation list
        assert page.locator(".opblock").count() >= 10
        assert "/api/v1/traces" in page.locator("#swagger-ui").inner_text()
        page.goto(f"{srv.url}/redoc")
        page.wait_for_selector("[data-section-id]", timeout=20_000)  # ReDoc rendered the operations
        assert "/api/v1/traces" in page.content()
        assert outside == []  # nothing asked of another host (the CSP keeps ReDoc's CDN logo out)
        assert page.errors == []
