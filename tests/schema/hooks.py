"""Schemathesis hooks: sign every generated request the way the Jira DC app does.

Loaded by the `api_schema` integration test through SCHEMATHESIS_HOOKS. The token is HS256 with
the instance's shared secret, iss/aud = the instance's public id, sub = a Jira user key, and qsh =
SHA-256 of the canonical request (PROTOCOLS.md 4.1, src/domain/qsh.rs). The qsh is computed over
the URL exactly as `requests` will put it on the wire, so generated path and query values with
odd characters are signed as sent: a refusal then means the daemon is wrong, not the signer.

Environment (set by the test):
  JTB_SCHEMA_BASE_URL   base URL the run targets
  JTB_SCHEMA_PUBLIC_ID  the instance's public id
  JTB_SCHEMA_SECRET     its shared secret
  JTB_SCHEMA_USERS      comma-separated Jira user keys; each request is signed as one of them
  JTB_SCHEMA_SIGN_AS    JSON: "METHOD /path/template" -> the one user such a request is signed as
                        (DELETE /me unlinks its caller: it gets a user of its own, or the
                        world's linked users would be gone after the first draw)
  JTB_SCHEMA_KNOWN      JSON: path parameter or body property name -> values that exist in the
                        test's world (path `id` is `portal_app_id` or `teams_user_id` by path),
                        so that generated requests reach real issues, chats, users and
                        settings, not only 404s and 422s
  JTB_SCHEMA_LOG        file to which each answer is appended as `METHOD path-template status`,
                        so the test can tell which operations were answered with success
"""

import base64
import hashlib
import hmac
import json
import os
import random
import time
import uuid
from urllib.parse import parse_qsl, quote, urlsplit

import requests
import schemathesis
from hypothesis import strategies as st

BASE_URL = os.environ["JTB_SCHEMA_BASE_URL"]
PUBLIC_ID = os.environ["JTB_SCHEMA_PUBLIC_ID"]
SECRET = os.environ["JTB_SCHEMA_SECRET"].encode()
USERS = os.environ["JTB_SCHEMA_USERS"].split(",")
KNOWN = json.loads(os.environ.get("JTB_SCHEMA_KNOWN", "{}"))
LOG = os.environ.get("JTB_SCHEMA_LOG")
SIGN_AS = json.loads(os.environ.get("JTB_SCHEMA_SIGN_AS", "{}"))
# Fixed so that a failing run can be repeated with the same users in the same order.
PICK = random.Random(7)


def _encode(s: str) -> str:
    # RFC 3986: unreserved characters stay, every other UTF-8 byte is %XX (space is %20).
    return quote(s, safe="~")


def canonical_request(method: str, path: str, raw_query: str) -> str:
    uri = "/" + path.strip("/").replace("&", "%26")
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        if name != "jwt":
            params.setdefault(_encode(name), []).append(value)
    query = "&".join(
        f"{name}={','.join(_encode(v) for v in sorted(values))}"
        for name, values in sorted(params.items())
    )
    return f"{method.upper()}&{uri}&{query}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(method: str, path: str, raw_query: str, sub: str) -> str:
    now = int(time.time())
    qsh = hashlib.sha256(canonical_request(method, path, raw_query).encode()).hexdigest()
    claims = {
        "iss": PUBLIC_ID,
        "aud": PUBLIC_ID,
        "sub": sub,
        "iat": now,
        "exp": now + 180,
        "qsh": qsh,
        # state-changing tokens are single use: each request gets its own
        "jti": str(uuid.uuid4()),
    }
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Build the request as the transport will, to sign the final path and query string.
    sent = case.as_transport_kwargs(base_url=BASE_URL)
    prepared = requests.Request(
        method=sent["method"], url=sent["url"], params=sent.get("params")
    ).prepare()
    url = urlsplit(prepared.url)
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = headers
    sub = SIGN_AS.get(f"{case.method.upper()} {case.path}") or PICK.choice(USERS)
    headers["Authorization"] = f"JWT {token(prepared.method, url.path, url.query, sub)}"


def _known(path: str, name: str) -> list[str]:
    if name == "id":
        name = "portal_app_id" if "/jsm/" in path else "teams_user_id"
    return KNOWN.get(name, [])


@schemathesis.hook
def flatmap_path_parameters(ctx, path_parameters):
    # Each parameter is either what was generated or an existing value, chosen by hypothesis.
    choices = {}
    for name, generated in (path_parameters or {}).items():
        known = _known(ctx.operation.path, name)
        choices[name] = st.sampled_from([generated, *known]) if known else st.just(generated)
    return st.fixed_dictionaries(choices)


@schemathesis.hook
def after_call(ctx, case, response):
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            code = ""
            if response.headers.get("content-type", [""])[0] == "application/problem+json":
                code = response.json().get("code", "")
            log.write(f"{case.method.upper()} {case.path} {response.status_code} {code}\n")


def _steer(value):
    # Strings under a known property name may become a known value; everything else stays.
    if isinstance(value, dict):
        return st.fixed_dictionaries(
            {
                k: st.sampled_from([v, *KNOWN[k]])
                if isinstance(v, str) and KNOWN.get(k)
                else _steer(v)
                for k, v in value.items()
            }
        )
    if isinstance(value, list):
        return st.tuples(*(_steer(v) for v in value)).map(list)
    return st.just(value)


@schemathesis.hook
def flatmap_body(ctx, body):
    return _steer(body)
