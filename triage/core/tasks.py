from celery import shared_task


@shared_task(name="core.ping", acks_late=True)
def ping() -> str:
    """Answer "pong": proves a message went through the broker to a worker and back."""
    return "pong"
