"""The operations endpoints, answered before the host check, sessions and the tenant wall."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.operations import exporter, health

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": health.live,
    "/health/ready": health.ready,
    "/metrics": exporter.metrics,
}


class OperationsEndpointsMiddleware:
    """Answers /health/live, /health/ready and /metrics (GET or HEAD) itself.

    A load balancer probes with its own Host header (often an address), which ALLOWED_HOSTS and
    the https redirect would refuse, and a probe must not open a session or resolve a tenant;
    so these paths never reach the rest of the stack. Only RequestIdMiddleware runs before.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path_info.rstrip("/") or "/")
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        else:
            response = endpoint(request)
        if request.method == "HEAD":
            response.content = b""
        return response
