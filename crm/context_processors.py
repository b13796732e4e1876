from crm import access, selectors


def navigation(request):
    """Navigation data for the base layout: admin flag and the user's task counts."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {"is_admin": access.is_admin(user), "task_counts": selectors.task_open_count(user=user)}
