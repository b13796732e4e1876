"""Readable timeline sentences for the events the opportunities services write."""

DESCRIBERS: dict = {}
