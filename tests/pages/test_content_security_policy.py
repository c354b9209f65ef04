"""Every page, the admin and the API docs carry the Content-Security-Policy: scripts from this
site only, never inline; no framing; forms post to this site."""

import re

import pytest

from tests.factories import UserFactory


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (directive.split() for directive in header.split(";") if directive)
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/v1/docs/"])
def test_the_policy_allows_scripts_from_this_site_only(client, path):
    response = client.get(path)

    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/calendar/", "/api/v1/docs/"])
def test_no_page_has_an_inline_script_the_policy_would_block(client, path):
    client.force_login(UserFactory(is_superuser=True))
    body = client.get(path).content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, re.DOTALL)
    assert scripts, "the page loads its scripts"  # else this test would check nothing
    assert all("src=" in attributes and not inline.strip() for attributes, inline in scripts)
