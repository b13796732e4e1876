"""Filled in by the page modules of the opportunities app."""

urlpatterns: list = []
