import zoneinfo

from django.conf import settings
from django.utils import timezone


class UserTimeZoneMiddleware:
    """Show dates and times in the signed-in user's own time zone when they have set one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(getattr(request, "user", None), "time_zone", "") or ""
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


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


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` on every response that has none of its own.

    The default policy forbids framing the CRM anywhere (``frame-ancestors 'none'``, alongside
    ``X-Frame-Options: DENY``), plugins and a foreign ``<base>``; it does not restrict scripts or
    styles yet."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
