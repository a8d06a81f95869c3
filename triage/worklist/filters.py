"""Parse worklist query parameters once, for the page and the API alike."""
from __future__ import annotations

from rest_framework import serializers

from triage.worklist.selectors import MAX_PAGE_SIZE, PAGE_SIZE, WorklistFilters, WorklistState

REVIEWED_CHOICES = [("false", "Unreviewed"), ("true", "Signed"), ("all", "All")]
DATE_RANGE_MSG = "The start date must not be after the end date."
MAX_PAGE = 100_000  # keeps page * page_size far inside the database's bigint OFFSET


class WorklistQuerySerializer(serializers.Serializer):
    """Filters, search and page of the worklist; ``reviewed`` defaults to unreviewed (the to-do list)."""

    hospital = serializers.UUIDField(required=False)
    state = serializers.ChoiceField(choices=WorklistState.CHOICES, required=False, allow_blank=True)
    label = serializers.CharField(required=False, allow_blank=True, max_length=32)
    reviewed = serializers.ChoiceField(choices=REVIEWED_CHOICES, default="false")
    received_from = serializers.DateField(required=False, allow_null=True)
    received_to = serializers.DateField(required=False, allow_null=True)
    q = serializers.CharField(required=False, allow_blank=True, max_length=64, trim_whitespace=True)
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)

    def validate(self, attrs):
        start, end = attrs.get("received_from"), attrs.get("received_to")
        if start and end and start > end:
            raise serializers.ValidationError({"received_to": DATE_RANGE_MSG})
        return attrs

    def selector_kwargs(self) -> dict:
        data = self.validated_data
        reviewed = {"false": False, "true": True, "all": None}[data["reviewed"]]
        filters = WorklistFilters(
            hospital_uuid=data.get("hospital"), state=data.get("state") or None, label=data.get("label") or None,
            reviewed=reviewed, received_from=data.get("received_from"), received_to=data.get("received_to"),
            search=data.get("q", ""),
        )
        return {"filters": filters, "page": data["page"], "page_size": data["page_size"]}
