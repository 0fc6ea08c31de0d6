"""A test LMS (LTI 1.3 platform with LTI Proctoring Services, ACS and AGS) on 127.0.0.1.

Written from the 1EdTech texts (LTI 1.3 core, Security Framework, Proctoring
Services 1.0, AGS 2.0) because Open edX's platform-side consumer
(xblock-lti-consumer's ``lti_consumer/lti_1p3``) cannot run outside Open edX:
importing it loads the XBlock runtime, edx-django-utils and the platform's
compat layer, and it has no Assessment Control Service. Its LtiStartAssessment
checks (message type, version, session_data, resource link id, attempt number)
are the ones made here too.

It has its own RSA keys and JWKS, verifies everything the tool sends against
the tool's JWKS, and records what it received for the tests to assert on.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LTI_AP = "https://purl.imsglobal.org/spec/lti-ap/claim/"
LTI_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/"
ACS_SCOPE = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all"
ACS_TYPE = "application/vnd.ims.lti-ap.v1.control+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@dataclass
class Key:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def jwk(self) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}


def new_key() -> Key:
    return Key(secrets.token_hex(8), rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class TestPlatform:
    server: ThreadingHTTPServer
    client_id: str = "proctorme-tool"
    deployment_id: str = "deployment-1"
    keys: list[Key] = field(default_factory=lambda: [new_key()])
    tool_jwks_url: str = ""
    tool_jwks: dict | None = None  # a fixed JWKS instead of fetching tool_jwks_url
    tool_login_url: str = ""
    pending: dict[str, dict] = field(default_factory=dict)  # lti_message_hint → claims
    jwks_fetches: int = 0
    start_assessments: list[dict] = field(default_factory=list)
    start_assessment_errors: list[str] = field(default_factory=list)
    tokens: dict[str, list[str]] = field(default_factory=dict)  # access token → scopes
    acs_requests: list[dict] = field(default_factory=list)
    acs_status: str = "running"
    acs_down: bool = False
    lineitems: list[dict] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    registration_token: str = "reg-token-1"
    ags_down: bool = False  # line items and scores answer 503
    registrations: list[dict] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base

    def urls(self) -> dict:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "auth_login_url": self.base + "/auth",
            "auth_token_url": self.base + "/token",
            "key_set_url": self.base + "/jwks",
        }

    # --- what the platform signs ------------------------------------------------------------

    def sign(self, claims: dict, *, key: Key | None = None, kid: str | None = None) -> str:
        key = key or self.keys[0]
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})

    def base_claims(self, *, nonce: str, message_type: str, sub: str = "student-1", roles=None) -> dict:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@students.alpha.edu",
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "",
            LTI + "roles": roles if roles is not None else [LEARNER],
            LTI + "context": {"id": "course-7", "title": "Algebra"},
            LTI + "resource_link": {"id": "quiz-42", "title": "Midterm quiz"},
        }

    def start_proctoring_claims(
        self, *, nonce: str, attempt: int = 1, acs: bool = True, ags: bool = True, **extra
    ) -> dict:
        claims = self.base_claims(nonce=nonce, message_type="LtiStartProctoring", **extra)
        claims.update(
            {
                LTI_AP + "attempt_number": attempt,
                LTI_AP + "session_data": "csrf-" + secrets.token_hex(8),
                LTI_AP + "start_assessment_url": self.base + "/start_assessment",
                LTI_AP + "end_assessment_return": True,
            }
        )
        if acs:
            claims[LTI_AP + "acs"] = {
                "assessment_control_url": self.base + "/acs",
                "actions": ["flag", "pause", "resume", "terminate", "update"],
            }
        if ags:
            claims[LTI_AGS + "endpoint"] = {
                "scope": AGS_SCOPES,
                "lineitems": self.base + "/lineitems",
                "lineitem": self.base + "/lineitems/quiz",  # the quiz's own grade: never touched
            }
        return claims

    # --- the tool's keys --------------------------------------------------------------------

    def _tool_key(self, token: str):
        jwks = self.tool_jwks
        if jwks is None:
            with urllib.request.urlopen(self.tool_jwks_url, timeout=5) as response:  # noqa: S310 (loopback)
                jwks = json.loads(response.read())
        kid = jwt.get_unverified_header(token).get("kid")
        for item in jwks["keys"]:
            if item["kid"] == kid:
                return jwt.PyJWK.from_dict(item).key
        raise jwt.InvalidTokenError(f"kid {kid} is not in the tool's JWKS")

    def verify_tool_jwt(self, token: str, *, audience: str) -> dict:
        return jwt.decode(
            token,
            self._tool_key(token),
            algorithms=["RS256"],
            audience=audience,
            issuer=self.client_id,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )

    def check_start_assessment(self, claims: dict) -> list[str]:
        """LtiStartAssessment must echo what LtiStartProctoring sent (Proctoring Services §4.3)."""
        problems = []
        sent = next(
            (
                c
                for c in self.pending.values()
                if c[LTI + "message_type"] == "LtiStartProctoring"
                and c[LTI_AP + "session_data"] == claims.get(LTI_AP + "session_data")
            ),
            None,
        )
        if claims.get(LTI + "message_type") != "LtiStartAssessment":
            problems.append("message_type")
        if claims.get(LTI + "version") != "1.3.0":
            problems.append("version")
        if claims.get(LTI + "deployment_id") != self.deployment_id:
            problems.append("deployment_id")
        if not claims.get("nonce"):
            problems.append("nonce")
        if sent is None:
            problems.append("session_data")
        else:
            if claims.get(LTI + "resource_link", {}).get("id") != sent[LTI + "resource_link"]["id"]:
                problems.append("resource_link")
            if claims.get(LTI_AP + "attempt_number") != sent[LTI_AP + "attempt_number"]:
                problems.append("attempt_number")
        return problems

    # --- browser-facing launches ------------------------------------------------------------

    def prepare(self, claims_without_nonce: dict) -> str:
        hint = secrets.token_hex(8)
        self.pending[hint] = claims_without_nonce
        return hint

    def login_initiation_url(self, hint: str, *, target: str) -> str:
        return (
            self.tool_login_url
            + "?"
            + urlencode(
                {
                    "iss": self.issuer,
                    "login_hint": "student-1",
                    "target_link_uri": target,
                    "lti_message_hint": hint,
                    "client_id": self.client_id,
                    "lti_deployment_id": self.deployment_id,
                }
            )
        )


def _form_post(action: str, fields: dict) -> bytes:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<!doctype html><html><body><form id="f" method="post" action="{html.escape(action)}">{inputs}'
        '</form><script>document.getElementById("f").submit()</script></body></html>'
    ).encode()


def start_platform() -> TestPlatform:
    platform: TestPlatform

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data) -> None:
            self._send(status, json.dumps(data).encode())

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _bearer_scopes(self) -> list[str] | None:
            header = self.headers.get("Authorization", "")
            return platform.tokens.get(header[7:]) if header.startswith("Bearer ") else None

        def do_GET(self):  # noqa: N802 (http.server's naming)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                return self._json(
                    200,
                    {
                        "issuer": platform.issuer,
                        "authorization_endpoint": platform.base + "/auth",
                        "token_endpoint": platform.base + "/token",
                        "jwks_uri": platform.base + "/jwks",
                        "registration_endpoint": platform.base + "/register",
                        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                        "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                            "product_family_code": "test-lms",
                            "messages_supported": [
                                {"type": "LtiResourceLinkRequest"},
                                {"type": "LtiStartProctoring"},
                            ],
                        },
                    },
                )
            if parts.path == "/jwks":
                platform.jwks_fetches += 1
                return self._json(200, {"keys": [key.jwk for key in platform.keys]})
            if parts.path == "/auth":
                return self._auth(query)
            if parts.path.startswith("/start/"):
                # The LMS starts a launch: third-party initiated login at the tool.
                return self._redirect(
                    platform.login_initiation_url(parts.path[7:], target=platform.tool_login_url)
                )
            if parts.path == "/submit":
                return self._submit(query)
            if parts.path == "/lineitems" and platform.ags_down:
                return self._json(503, {"error": "down"})
            if parts.path == "/lineitems":
                scopes = self._bearer_scopes() or []
                if AGS_SCOPES[0] not in scopes:
                    return self._json(401, {"error": "lineitem scope required"})
                items = [
                    i
                    for i in platform.lineitems
                    if all(
                        i.get(k) == query[q]
                        for q, k in (("resource_link_id", "resourceLinkId"), ("tag", "tag"))
                        if q in query
                    )
                ]
                return self._send(
                    200, json.dumps(items).encode(), "application/vnd.ims.lis.v2.lineitemcontainer+json"
                )
            return self._json(404, {"error": "not found"})

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _submit(self, query: dict) -> None:
            """The candidate submits the quiz: the platform sends LtiEndAssessment to the tool."""
            started = next(
                (
                    c
                    for c in platform.start_assessments
                    if c[LTI_AP + "session_data"] == query.get("session_data")
                ),
                None,
            )
            if started is None:
                return self._json(400, {"error": "no such assessment"})
            end = platform.base_claims(nonce="", message_type="LtiEndAssessment")
            end[LTI_AP + "attempt_number"] = started[LTI_AP + "attempt_number"]
            return self._redirect(
                platform.login_initiation_url(platform.prepare(end), target=platform.tool_login_url)
            )

        def _auth(self, query: dict) -> None:
            hint = query.get("lti_message_hint", "")
            claims = platform.pending.get(hint)
            if claims is None or query.get("client_id") != platform.client_id:
                platform.errors.append(f"auth: unknown hint or client {query}")
                return self._json(400, {"error": "invalid_request"})
            for name in (
                "scope",
                "response_type",
                "response_mode",
                "prompt",
                "nonce",
                "state",
                "redirect_uri",
            ):
                if not query.get(name):
                    platform.errors.append(f"auth: {name} missing")
                    return self._json(400, {"error": "invalid_request", "missing": name})
            signed = platform.sign(
                {**claims, "nonce": query["nonce"], "iat": int(time.time()), "exp": int(time.time()) + 300}
            )
            body = _form_post(query["redirect_uri"], {"id_token": signed, "state": query["state"]})
            return self._send(200, body, "text/html; charset=utf-8")

        def do_POST(self):  # noqa: N802
            parts = urlsplit(self.path)
            raw = self._body()
            if parts.path == "/register":
                if self.headers.get("Authorization") != f"Bearer {platform.registration_token}":
                    return self._json(401, {"error": "registration token"})
                platform.registrations.append(json.loads(raw))
                return self._json(
                    200,
                    {
                        "client_id": platform.client_id,
                        **json.loads(raw),
                        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                            "deployment_id": platform.deployment_id
                        },
                    },
                )
            if parts.path == "/token":
                return self._token({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            if parts.path == "/start_assessment":
                return self._start_assessment({k: v[0] for k, v in parse_qs(raw.decode()).items()})
            if parts.path == "/acs":
                if ACS_SCOPE not in (self._bearer_scopes() or []):
                    return self._json(401, {"error": "control scope required"})
                if self.headers.get("Content-Type", "").split(";")[0] != ACS_TYPE:
                    return self._json(415, {"error": "content type"})
                control = json.loads(raw)
                platform.acs_requests.append(control)
                if platform.acs_down:
                    return self._json(503, {"error": "down"})
                status = {"pause": "paused", "resume": "running", "terminate": "terminated"}.get(
                    control.get("action"), platform.acs_status
                )
                platform.acs_status = status
                answer = {"status": status}
                if control.get("action") == "update" and control.get("extra_time"):
                    answer["extra_time"] = control["extra_time"]
                return self._send(
                    200, json.dumps(answer).encode(), "application/vnd.ims.lti-ap.v1.controlresult+json"
                )
            if parts.path.startswith("/lineitems") and platform.ags_down:
                return self._json(503, {"error": "down"})
            if parts.path == "/lineitems":
                if AGS_SCOPES[0] not in (self._bearer_scopes() or []):
                    return self._json(401, {"error": "lineitem scope required"})
                item = json.loads(raw)
                item["id"] = f"{platform.base}/lineitems/{len(platform.lineitems) + 1}"
                platform.lineitems.append(item)
                return self._send(201, json.dumps(item).encode(), LINEITEM_TYPE)
            if parts.path.startswith("/lineitems/") and parts.path.endswith("/scores"):
                if AGS_SCOPES[1] not in (self._bearer_scopes() or []):
                    return self._json(401, {"error": "score scope required"})
                if self.headers.get("Content-Type", "").split(";")[0] != SCORE_TYPE:
                    return self._json(415, {"error": "content type"})
                platform.scores.append(
                    {"lineitem": platform.base + parts.path[: -len("/scores")], **json.loads(raw)}
                )
                return self._json(200, {})
            return self._json(404, {"error": "not found"})

        def _token(self, form: dict) -> None:
            """Client credentials grant with a JWT client assertion (LTI Security Framework §4.1)."""
            try:
                assert form.get("grant_type") == "client_credentials"
                assert (
                    form.get("client_assertion_type")
                    == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                )
                claims = platform.verify_tool_jwt(form["client_assertion"], audience=platform.base + "/token")
                assert claims["sub"] == platform.client_id and claims.get("jti")
            except Exception as error:  # noqa: BLE001 (any failure is the client's fault here)
                platform.errors.append(f"token: {error!r}")
                return self._json(401, {"error": "invalid_client"})
            token = secrets.token_hex(16)
            scopes = form.get("scope", "").split()
            platform.tokens[token] = scopes
            return self._json(
                200,
                {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": " ".join(scopes),
                },
            )

        def _start_assessment(self, form: dict) -> None:
            try:
                claims = platform.verify_tool_jwt(form.get("JWT", ""), audience=platform.issuer)
            except Exception as error:  # noqa: BLE001
                platform.start_assessment_errors.append(repr(error))
                return self._send(400, b"<h1>Invalid LtiStartAssessment</h1>", "text/html")
            problems = platform.check_start_assessment(claims)
            if problems:
                platform.start_assessment_errors.append(",".join(problems))
                return self._send(400, b"<h1>Invalid LtiStartAssessment</h1>", "text/html")
            platform.start_assessments.append(claims)
            submit = "/submit?" + urlencode({"session_data": claims[LTI_AP + "session_data"]})
            body = (
                "<!doctype html><html><body><h1 id='quiz'>Midterm quiz</h1>"
                f"<p>Attempt {claims[LTI_AP + 'attempt_number']}</p>"
                f"<a id='submit' href='{html.escape(submit)}'>Submit quiz</a></body></html>"
            ).encode()
            return self._send(200, body, "text/html; charset=utf-8")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    platform = TestPlatform(server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return platform
