"""Server-rendered account pages: the home page lists the signed-in user's hospitals and roles."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from triage.accounts.selectors import memberships_of


@login_required
def home(request):
    return render(request, "home.html", {"memberships": memberships_of(user=request.user)})
