"""Per-request values that services read without taking the request as an argument."""
from contextvars import ContextVar

client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
