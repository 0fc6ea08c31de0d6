"""LTI 1.3 core launch: OIDC login, id_token checks, and one coded refusal per way it can be wrong."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model

from sessions.lti.models import LtiAttempt, LtiLoginState
from sessions.models import ProctoringSession
from tests.lti.conftest import launch, login_and_state, post_launch, refused
from tests.lti.platform import INSTRUCTOR, LTI, LTI_AP, new_key

pytestmark = pytest.mark.django_db


def _nothing_started(users_before: int) -> None:
    assert LtiAttempt.objects.count() == 0
    assert ProctoringSession.objects.count() == 0
    assert get_user_model().objects.count() == users_before


@pytest.fixture
def users_before(tenant_a, tenant_b):
    return get_user_model().objects.count()


def test_start_proctoring_launch_shows_the_tool_page_and_records_the_attempt(
    client, platform, registration, tenant_a
):
    claims = platform.start_proctoring_claims(nonce="")
    response = launch(client, platform, tenant_a.institution, claims)
    assert response.status_code == 200
    assert b"LoadProctormeWidget" in response.content
    attempt = LtiAttempt.objects.get()
    assert attempt.institution == tenant_a.institution
    assert attempt.registration == registration
    assert attempt.attempt_number == 1
    assert attempt.session_data == claims[LTI_AP + "session_data"]
    assert attempt.acs_url == platform.base + "/acs"
    assert attempt.ags_lineitems_url == platform.base + "/lineitems"
    assert attempt.session is None  # started by the widget after consent, not by the launch


def test_login_initiation_sends_the_oidc_parameters(client, platform, registration, tenant_a):
    state, nonce = login_and_state(
        client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce="")
    )
    stored = LtiLoginState.objects.get(state=state)
    assert stored.nonce == nonce and stored.registration == registration and stored.used_at is None


def test_bad_signature_is_refused(client, platform, registration, tenant_a, users_before):
    forger = new_key()
    claims = platform.start_proctoring_claims(nonce="")
    # Signed with another key but naming the platform's kid.
    response = launch(
        client,
        platform,
        tenant_a.institution,
        claims,
        sign=lambda c: platform.sign(c, key=forger, kid=platform.keys[0].kid),
    )
    refused(response, "LTI_BAD_SIGNATURE")
    _nothing_started(users_before)


def test_unknown_kid_is_refused_after_one_refresh(
    client, platform, registration, tenant_a, users_before, settings
):
    settings.LTI_JWKS_MIN_REFRESH_SECONDS = 0
    stranger = new_key()
    claims = platform.start_proctoring_claims(nonce="")
    response = launch(
        client, platform, tenant_a.institution, claims, sign=lambda c: platform.sign(c, key=stranger)
    )
    refused(response, "LTI_UNKNOWN_KID")
    assert platform.jwks_fetches == 2  # the cache was filled, then refreshed once for the unknown kid
    _nothing_started(users_before)


def test_platform_keys_are_cached_and_refreshed_when_it_rotates(
    client, platform, registration, tenant_a, settings
):
    settings.LTI_JWKS_MIN_REFRESH_SECONDS = 0
    assert (
        launch(client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce="")).status_code
        == 200
    )
    assert (
        launch(
            client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce="", attempt=2)
        ).status_code
        == 200
    )
    assert platform.jwks_fetches == 1  # cached
    platform.keys = [new_key()]  # the platform rotates its key
    response = launch(
        client, platform, tenant_a.institution, platform.start_proctoring_claims(nonce="", attempt=3)
    )
    assert response.status_code == 200
    assert platform.jwks_fetches == 2


def test_expired_token_is_refused(client, platform, registration, tenant_a, users_before):
    claims = platform.start_proctoring_claims(nonce="")
    claims.update(iat=int(time.time()) - 3600, exp=int(time.time()) - 600)
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_TOKEN_EXPIRED")
    _nothing_started(users_before)


def test_replayed_launch_is_refused(client, platform, registration, tenant_a):
    claims = platform.start_proctoring_claims(nonce="")
    state, nonce = login_and_state(client, platform, tenant_a.institution, claims)
    token = platform.sign({**claims, "nonce": nonce})
    assert post_launch(client, tenant_a.institution, token, state).status_code == 200
    refused(post_launch(client, tenant_a.institution, token, state), "LTI_REPLAYED")
    # The same token with a fresh state: its nonce is not the one sent with that state.
    fresh_state, _ = login_and_state(client, platform, tenant_a.institution, claims)
    refused(post_launch(client, tenant_a.institution, token, fresh_state), "LTI_REPLAYED")
    assert LtiAttempt.objects.count() == 1


def test_unknown_state_is_refused(client, platform, registration, tenant_a, users_before):
    token = platform.sign(platform.start_proctoring_claims(nonce="n"))
    refused(post_launch(client, tenant_a.institution, token, "made-up"), "LTI_INVALID_STATE")
    _nothing_started(users_before)


def test_wrong_audience_is_refused(client, platform, registration, tenant_a, users_before):
    claims = platform.start_proctoring_claims(nonce="")
    claims["aud"] = "another-tool"
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_WRONG_AUDIENCE")
    _nothing_started(users_before)


def test_wrong_deployment_is_refused(client, platform, registration, tenant_a, users_before):
    claims = platform.start_proctoring_claims(nonce="")
    claims[LTI + "deployment_id"] = "deployment-of-someone-else"
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_WRONG_DEPLOYMENT")
    _nothing_started(users_before)


def test_missing_required_claim_is_refused(client, platform, registration, tenant_a, users_before):
    claims = platform.start_proctoring_claims(nonce="")
    del claims[LTI_AP + "session_data"]
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_MISSING_CLAIM")
    _nothing_started(users_before)


def test_unsupported_message_type_is_refused(client, platform, registration, tenant_a, users_before):
    claims = platform.start_proctoring_claims(nonce="")
    claims[LTI + "message_type"] = "LtiSubmissionReviewRequest"
    refused(launch(client, platform, tenant_a.institution, claims), "LTI_UNSUPPORTED_MESSAGE")
    _nothing_started(users_before)


def test_another_institutions_registration_cannot_launch_here(
    client, platform, tenant_a, tenant_b, users_before
):
    from sessions.lti.registrations import lti_registration_create

    # The platform is registered with Beta only; it launches at Alpha's URLs.
    lti_registration_create(institution=tenant_b.institution, name="Beta's LMS", **platform.urls())
    from django.urls import reverse

    response = client.get(
        reverse("lti-login", args=[tenant_a.institution.public_id]),
        {
            "iss": platform.issuer,
            "login_hint": "x",
            "target_link_uri": "http://testserver/",
            "client_id": platform.client_id,
        },
    )
    refused(response, "LTI_UNKNOWN_REGISTRATION")
    # A state issued by Beta's login cannot be used at Alpha's launch URL either.
    claims = platform.start_proctoring_claims(nonce="")
    state, nonce = login_and_state(client, platform, tenant_b.institution, claims)
    refused(
        post_launch(client, tenant_a.institution, platform.sign({**claims, "nonce": nonce}), state),
        "LTI_INVALID_STATE",
    )
    _nothing_started(users_before)


def test_instructor_reaches_the_dashboard_of_the_course_without_a_password(
    client, platform, registration, tenant_a
):
    from sessions.lti.models import LtiCourseAccess
    from sessions.models import Assessment

    assessment = Assessment.objects.create(
        institution=tenant_a.institution,
        external_id=f"lti:{registration.public_id}:quiz-42",
        title="Midterm quiz",
    )
    claims = platform.base_claims(
        nonce="", message_type="LtiResourceLinkRequest", sub="teacher-9", roles=[INSTRUCTOR]
    )
    response = launch(client, platform, tenant_a.institution, claims)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/?assessment={assessment.public_id}"
    page = client.get(response["Location"])
    assert page.status_code == 200
    user = page.wsgi_request.user
    assert not user.has_usable_password()
    # No membership of the institution: the course of the launch only (tests/lti/test_lti_course_dashboard.py).
    assert not user.memberships.exists()
    assert LtiCourseAccess.objects.get(user=user).context_id == "course-7"


def test_learner_resource_link_launch_signs_nobody_in(client, platform, registration, tenant_a, users_before):
    claims = platform.base_claims(nonce="", message_type="LtiResourceLinkRequest")
    response = launch(client, platform, tenant_a.institution, claims)
    assert response.status_code == 200
    assert b"Proctoring starts from your quiz" in response.content
    assert client.get("/dashboard/").status_code == 302  # to the login page
    _nothing_started(users_before)


def test_an_existing_member_is_signed_in_with_their_membership(client, platform, registration, tenant_a):
    from django.contrib.auth import get_user_model

    from sessions.lti.launch import Launch
    from sessions.lti.proctoring import lti_staff_username
    from tenants.models import Membership

    claims = platform.base_claims(
        nonce="", message_type="LtiResourceLinkRequest", sub="teacher-9", roles=[INSTRUCTOR]
    )
    username = lti_staff_username(Launch(registration=registration, claims=claims))
    user = get_user_model().objects.create_user(username)
    Membership.objects.create(institution=tenant_a.institution, user=user, role="reviewer")
    response = launch(client, platform, tenant_a.institution, claims)
    assert response.status_code == 302
    assert client.get(response["Location"]).wsgi_request.user == user


def test_old_login_states_are_deleted_and_an_expired_state_is_refused(
    client, platform, registration, tenant_a, settings, time_machine
):
    from django.utils import timezone

    time_machine.move_to(timezone.now(), tick=False)
    claims = platform.start_proctoring_claims(nonce="")
    state, nonce = login_and_state(client, platform, tenant_a.institution, claims)
    time_machine.shift(settings.LTI_STATE_TTL + 1)
    refused(
        post_launch(client, tenant_a.institution, platform.sign({**claims, "nonce": nonce}), state),
        "LTI_INVALID_STATE",
    )
    time_machine.shift(settings.LTI_STATE_TTL)
    login_and_state(client, platform, tenant_a.institution, claims)
    assert not LtiLoginState.objects.filter(state=state).exists()
