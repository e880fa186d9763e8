from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import audience_overview


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The analysts' landing page: every audience with its newest personas."""
    return render(
        request, "personas/home.html", {"audiences": audience_overview(user=request.user)}
    )
