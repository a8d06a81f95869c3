"""Server-rendered pages shared by every role."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from triage.accounts.selectors import memberships_of


@login_required
def home(request):
    return render(request, "home.html", {"memberships": memberships_of(user=request.user)})
