import functools
import zoneinfo

from django.conf import settings
from django.utils import timezone


class UserTimeZoneMiddleware:
    """Show dates and times in the signed-in user's own time zone when they have set one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        activate_time_zone(getattr(request, "user", None))
        return self.get_response(request)


def activate_time_zone(user) -> None:
    """Make ``user``'s own time zone the current one (the default when they have none, or an
    unknown one). Also called by the API's token authentication (``crm.api_auth``), which runs
    after this middleware has seen an anonymous request."""
    tz_name = getattr(user, "time_zone", "") or ""
    if tz_name:
        try:
            timezone.activate(zoneinfo.ZoneInfo(tz_name))
            return
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    timezone.deactivate()


class HealthProbeMiddleware:
    """Answer ``/healthz`` and ``/readyz`` (crm/health.py) before any other middleware.

    First in ``MIDDLEWARE``: a container healthcheck reaches the process by its internal address
    over plain HTTP, so the probes must not depend on the Host header matching ALLOWED_HOSTS, on the
    HTTPS redirect or on a session.
    """

    def __init__(self, get_response):
        from crm import health

        self.get_response = get_response
        self.probes = {"/healthz": health.healthz, "/readyz": health.readyz}

    def __call__(self, request):
        probe = self.probes.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


def with_sources(policy: str, directive: str, *sources: str) -> str:
    """``policy`` with ``sources`` added to ``directive`` (which starts from ``default-src``'s
    sources when the policy does not name it; with neither, nothing is restricted: unchanged)."""
    directives = [part.split() for part in policy.split(";") if part.strip()]
    names = [part[0].lower() for part in directives]
    if directive not in names:
        if "default-src" not in names:
            return policy
        directives.append([directive, *directives[names.index("default-src")][1:]])
        names.append(directive)
    found = directives[names.index(directive)]
    found.extend(source for source in sources if source not in found)
    return "; ".join(" ".join(part) for part in directives)


def allow_inline_styles(policy: str) -> str:
    """For pages built by third-party templates with inline style attributes: the DRF browsable
    API (``style="float: right"``). Scripts stay same-origin files. (The Swagger UI at /api/docs/
    needs nothing more than the site's policy: crm/urls.py, templates/crm/api_docs.html.)"""
    return with_sources(policy, "style-src", "'unsafe-inline'")


def content_security_policy(policy):
    """Give a view (a function, or a class's ``as_view()``) its own policy instead of
    ``settings.CONTENT_SECURITY_POLICY``: a string, or a function of the site's policy returning
    the view's (``allow_inline_styles``), so that an operator's policy stays the base.
    ``ContentSecurityPolicyMiddleware`` honours the ``content_security_policy`` attribute this
    sets on the response."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response.content_security_policy = policy
            return response

        return wrapper

    return decorator


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` on every response that has none of its own.

    The default policy allows scripts, styles, images, fetches and form posts from this origin
    only (no inline ``<script>``, event-handler attribute, ``style`` attribute, ``<style>`` block
    or eval), and forbids framing the CRM anywhere (``frame-ancestors 'none'``, alongside
    ``X-Frame-Options: DENY``), plugins and a foreign ``<base>``. An empty setting sends none.

    A view decorated with ``content_security_policy(policy)`` gets that policy instead; so does
    an API response drawn as the DRF browsable API (HTML), with ``allow_inline_styles``, since its
    templates carry inline style attributes. JSON answers get the site's policy."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if not self.policy:
            return response
        policy = getattr(response, "content_security_policy", None)
        if policy is None and _browsable_api(response):
            policy = allow_inline_styles
        if callable(policy):
            policy = policy(self.policy)
        response.headers.setdefault("Content-Security-Policy", policy or self.policy)
        return response


def _browsable_api(response) -> bool:
    from rest_framework.renderers import BrowsableAPIRenderer

    return isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer)
