"""Calendar-day filters in the current time zone, for list filters with "from" and "to" dates."""
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone


def within_days(field: str, *, first: date | None, last: date | None) -> Q:
    """Match ``field`` (a datetime) from the start of day ``first`` to the end of day ``last``, both inclusive."""
    tz = timezone.get_current_timezone()
    q = Q()
    if first:
        q &= Q(**{f"{field}__gte": datetime.combine(first, time.min, tzinfo=tz)})
    if last:
        q &= Q(**{f"{field}__lt": datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)})
    return q
