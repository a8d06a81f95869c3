"""Server-rendered study pages; the upload page posts to the JSON API from small JS."""
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from triage.studies.selectors import upload_hospitals_for
from triage.studies.uploads import MAX_FILE_BYTES

UPLOAD_BATCH_FILES = 50
UPLOAD_BATCH_BYTES = 64 * 1024**2
STATE_POLL_MS = 2000
# Stands in for a study's UUID in URL templates the page's JS fills in.
URL_PLACEHOLDER = UUID(int=0)


@login_required
def upload_page(request):
    return render(request, "studies/upload.html", {
        "hospitals": upload_hospitals_for(user=request.user),
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "file_max_bytes": MAX_FILE_BYTES,
        "batch_files": UPLOAD_BATCH_FILES,
        "batch_bytes": UPLOAD_BATCH_BYTES,
        "poll_ms": STATE_POLL_MS,
        "stable_age_s": settings.STUDY_STABLE_AGE_S,
        "placeholder": URL_PLACEHOLDER,
    })
