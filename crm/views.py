from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def home(request):
    return HttpResponse("ok")


def error_403(request, exception=None):
    return HttpResponse(status=403)


def error_404(request, exception=None):
    return HttpResponse(status=404)


def error_500(request):
    return HttpResponse(status=500)
