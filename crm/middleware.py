import zoneinfo

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
