"""Remember who is asking, from where, so services can audit without seeing the request."""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from triage.core.request_context import client_ip_var


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_ip_var.set(request.META.get("REMOTE_ADDR"))
        try:
            return self.get_response(request)
        finally:
            client_ip_var.reset(token)
