"""The local API server: Chalice's development server, answering every HTTP method.

Python's `BaseHTTPRequestHandler` answers 501 to a method it has no `do_` handler for (TRACE, CONNECT, made-up
ones). Those get what any other method a path does not serve gets: 405, `Allow`, the service's error shape.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, RouteMatcher

from chalicelib.errors import MethodNotAllowed

SERVED = frozenset({"GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"})


class RequestHandler(ChaliceRequestHandler):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_") and name[3:] not in SERVED:
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        app: Chalice = self.local_gateway._app_object
        try:
            route = RouteMatcher(list(app.routes)).match_route(self.path).route
            allowed = ", ".join(sorted(app.routes[route]))
        except ValueError:
            allowed = ""
        self.close_connection = True  # an unread body must not be taken for the next request
        error = MethodNotAllowed(f"method {self.command[:32]} is not served here")
        body = json.dumps(error.body()).encode()
        self.send_response(405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Allow", allowed)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def local_server(app: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """Chalice's local server for `app`, with the handler above."""
    return LocalDevServer(app, config, host, port, handler_cls=RequestHandler)
