"""The demo exam pages (/demo/, /demo/autoproctor/): what an institution's page and server do, on Demo Academy."""

from __future__ import annotations

import secrets

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from sessions.demo.institution import DEMO_SLUG, demo_key
from sessions.widget_script import widget_script
from tenants.models import ApiKey, Institution
from tenants.services import attempt_sign


def _demo_context(request, *, candidate_suffix: str) -> dict | None:

    institution = Institution.objects.filter(slug=DEMO_SLUG).first()
    if institution is None:
        return None
    candidate = request.GET.get("candidate") or f"cand-{candidate_suffix}"
    build = widget_script()
    return {
        "institution": institution,
        "widget_url": request.build_absolute_uri(
            reverse("widget-build", kwargs={"build": build.build, "name": "widget.min.js"})
        ),
        "widget_integrity": build.integrity(minified=True),
        "publishable_key": demo_key(ApiKey.Kind.PUBLISHABLE),
        "institution_name": institution.name,
        "assessment_id": request.GET.get("assessment", "demo-algebra-101"),
        "assessment_title": "Algebra 101 – Midterm",
        "candidate_id": candidate,
        "candidate_email": f"{candidate}@students.demo.edu",
        "candidate_first_name": "Ada",
        "candidate_last_name": "Lovelace",
        "exam_duration": int(request.GET.get("duration", "1800") or 1800),
    }


def demo_view(request):
    context = _demo_context(request, candidate_suffix=secrets.token_hex(4))
    if context is None:
        return HttpResponse("The demo institution is missing: run `python manage.py seed_demo`.", status=404)
    return render(request, "demo/exam.html", context)


def demo_autoproctor_view(request):

    context = _demo_context(request, candidate_suffix=secrets.token_hex(4))
    if context is None:
        return HttpResponse("The demo institution is missing: run `python manage.py seed_demo`.", status=404)
    attempt = request.GET.get("attempt") or f"attempt-{secrets.token_hex(6)}"
    # What an integrator's server does: sign the attempt id with the attempt-signing key.
    context["test_attempt_id"] = attempt
    context["hashed_test_attempt_id"] = attempt_sign(
        secret_key=demo_key(ApiKey.Kind.SIGNING), attempt_id=attempt
    )
    return render(request, "demo/exam_autoproctor.html", context)
