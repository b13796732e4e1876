from crm import access, selectors

# First part of the URL name ("contact-detail" → "contact") → navigation section (aria-current).
_SECTIONS = {
    "home": "agenda",
    "account": "accounts",
    "contact": "contacts",
    "task": "tasks",
    "lead": "leads",
    "opportunity": "opportunities",
    "report": "reports",
    "settings": "settings",
}


def _section(request) -> str:
    match = getattr(request, "resolver_match", None)
    name = (match.url_name if match else "") or ""
    return _SECTIONS.get(name.split("-")[0], "")


def navigation(request):
    """Navigation data for the base layout: admin flag, the user's task counts, current section."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"nav_section": _section(request)}
    return {
        "is_admin": access.is_admin(user),
        "task_counts": selectors.task_open_count(user=user),
        "nav_section": _section(request),
    }
