"""dashboard_context: which institutions someone sees, with which role and which courses.

Memberships first, by name; then institutions where the user only launched the tool as an LMS
instructor, by name, each with only its own courses. A deactivated registration's courses no
longer count, and course access never narrows what a member sees."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from sessions.dashboard.selectors import COURSE_ROLE, assessments_for, dashboard_context, in_courses
from sessions.lti.models import LtiCourseAccess, LtiRegistration
from sessions.models import ProctoringSession
from tests.dashboard.dashboard_factories import make_lti_attempt, make_session

pytestmark = pytest.mark.django_db


def _registration(institution, n: int) -> LtiRegistration:
    return LtiRegistration.objects.create(
        institution=institution,
        name=f"LMS {n}",
        issuer=f"https://lms{n}.test",
        client_id=f"client-{n}",
        deployment_ids=["1"],
        auth_login_url=f"https://lms{n}.test/auth",
        auth_token_url=f"https://lms{n}.test/token",
        key_set_url=f"https://lms{n}.test/jwks",
    )


def _course(user, registration, context_id: str, title: str = "") -> LtiCourseAccess:
    return LtiCourseAccess.objects.create(
        institution=registration.institution,
        registration=registration,
        user=user,
        context_id=context_id,
        context_title=title,
        last_launch_at=timezone.now(),
    )


@pytest.fixture
def world(tenant_a, tenant_b):
    """A teacher with no membership: two courses of Alpha's LMS, one of Beta's."""
    teacher = get_user_model().objects.create_user(username="teacher", email="teacher@lms.test")
    reg_a, reg_b = _registration(tenant_a.institution, 1), _registration(tenant_b.institution, 2)
    # by title (the rows' own order) course-8 comes first; the context holds them by course id
    _course(teacher, reg_a, "course-8", "Algebra")
    _course(teacher, reg_a, "course-7", "Zoology")
    _course(teacher, reg_b, "course-1")
    return teacher, reg_a, reg_b


def test_a_course_instructor_sees_each_institution_with_its_own_courses_only(tenant_a, tenant_b, world):
    teacher, reg_a, reg_b = world
    alpha = dashboard_context(user=teacher, chosen=None)
    assert alpha.institutions == (tenant_a.institution, tenant_b.institution)  # by name
    assert (alpha.institution, alpha.role) == (tenant_a.institution, COURSE_ROLE)
    assert alpha.courses == ((reg_a.pk, "course-7"), (reg_a.pk, "course-8"))  # sorted, not Beta's
    assert alpha.is_course_instructor and not alpha.is_admin

    beta = dashboard_context(user=teacher, chosen=str(tenant_b.institution.public_id))
    assert (beta.institution, beta.role, beta.courses) == (
        tenant_b.institution,
        COURSE_ROLE,
        ((reg_b.pk, "course-1"),),
    )


def test_a_deactivated_registrations_courses_no_longer_count(tenant_a, tenant_b, world):
    teacher, reg_a, reg_b = world
    reg_b.is_active = False
    reg_b.save()
    context = dashboard_context(user=teacher, chosen=str(tenant_b.institution.public_id))
    assert context.institutions == (tenant_a.institution,) and context.institution == tenant_a.institution
    reg_a.is_active = False
    reg_a.save()
    assert dashboard_context(user=teacher, chosen=None) is None


def test_members_come_first_and_course_access_never_narrows_a_membership(tenant_a, tenant_b, world):
    teacher, reg_a, reg_b = world
    # Beta's reviewer also launched from a course of Beta's and of Alpha's LMS.
    _course(tenant_b.reviewer, reg_b, "course-1")
    _course(tenant_b.reviewer, reg_a, "course-7")
    context = dashboard_context(user=tenant_b.reviewer, chosen=None)
    assert context.institutions == (tenant_b.institution, tenant_a.institution)  # member first
    assert (context.institution, context.role, context.courses) == (tenant_b.institution, "reviewer", None)
    assert not context.is_course_instructor
    alpha = dashboard_context(user=tenant_b.reviewer, chosen=str(tenant_a.institution.public_id))
    assert (alpha.role, alpha.courses) == (COURSE_ROLE, ((reg_a.pk, "course-7"),))


def test_an_institution_chosen_that_the_user_may_not_see_falls_back_to_the_first(tenant_a, tenant_b, world):
    from tests.conftest import _make_tenant

    teacher, reg_a, reg_b = world
    gamma = _make_tenant("Gamma College", ["exams.gamma.edu"])
    for chosen in (str(gamma.institution.public_id), "not-an-id", "", None):
        assert dashboard_context(user=teacher, chosen=chosen).institution == tenant_a.institution


def test_in_courses_keeps_the_sessions_launched_from_the_courses(tenant_a, world):
    teacher, reg_a, reg_b = world
    sessions = {}
    for context_id in ("course-7", "course-8", "course-9"):
        session = make_session(tenant_a.institution, first=context_id)
        make_lti_attempt(session, reg_a, context_id=context_id)
        sessions[context_id] = session.pk
    plain = make_session(tenant_a.institution, first="plain").pk
    everything = ProctoringSession.objects.filter(institution=tenant_a.institution)

    def pks(courses):
        return set(in_courses(everything, courses).values_list("pk", flat=True))

    assert pks(None) == {*sessions.values(), plain}
    assert pks(()) == set()
    assert pks(((reg_a.pk, "course-7"),)) == {sessions["course-7"]}
    assert pks(((reg_a.pk, "course-7"), (reg_a.pk, "course-9"))) == {
        sessions["course-7"],
        sessions["course-9"],
    }
    assert pks(((reg_b.pk, "course-7"),)) == set()  # the same course name on another registration


def test_a_courses_assessment_filter_lists_the_assessments_taken_in_it(tenant_a, world):
    teacher, reg_a, reg_b = world
    taken = {}
    for context_id, external_id, title in (
        ("course-7", "c-2", "Chemistry"),
        ("course-8", "c-3", "Algebra"),
        ("course-8", "c-2", "Chemistry"),
    ):
        session = make_session(tenant_a.institution, assessment=external_id, title=title)
        make_lti_attempt(session, reg_a, context_id=context_id)
        taken[title] = str(session.assessment.public_id)
    make_session(tenant_a.institution, assessment="c-1", title="Zoology")  # no course; ids not in title order
    # a second "Chemistry", made after c-2 but before it by id
    other_chemistry = str(
        make_session(tenant_a.institution, assessment="c-0", title="Chemistry").assessment.public_id
    )
    a = tenant_a.institution

    assert assessments_for(institution=a, courses=((reg_a.pk, "course-7"),)) == [
        (taken["Chemistry"], "Chemistry")
    ]
    assert assessments_for(institution=a, courses=((reg_a.pk, "course-8"),)) == [
        (taken["Algebra"], "Algebra"),
        (taken["Chemistry"], "Chemistry"),
    ]
    assert assessments_for(institution=a, courses=((reg_b.pk, "course-7"),)) == []
    assert assessments_for(institution=a, courses=()) == []
    assert [public_id for public_id, _ in assessments_for(institution=a, courses=None)] == [
        taken["Algebra"],
        other_chemistry,
        taken["Chemistry"],
        str(a.assessments.get(external_id="c-1").public_id),
    ]


def test_a_course_instructors_context_is_two_queries(tenant_a, tenant_b, world, django_assert_num_queries):
    teacher, reg_a, reg_b = world
    with django_assert_num_queries(2):  # the memberships, the course access with its institutions
        context = dashboard_context(user=teacher, chosen=None)
        names = [institution.name for institution in context.institutions]
    assert names == sorted(names) and len(names) == 2


def test_no_user_or_an_anonymous_one_has_no_context(db):
    from django.contrib.auth.models import AnonymousUser

    assert dashboard_context(user=AnonymousUser(), chosen=None) is None
    assert dashboard_context(user=None, chosen=None) is None  # a request without the auth middleware
