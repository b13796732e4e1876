"""Scenario modules: importing this package registers every scenario (see framework.scenario).

Add a scenario: a module here with a ``@scenario("name")`` function returning ``Check`` rows, and
its name in ``MODULES`` (the order of the table).
"""

from importlib import import_module

MODULES = ["rescore", "ensure", "visibility", "daily", "purchases", "api", "api_sharing"]

for _name in MODULES:
    import_module(f"{__name__}.{_name}")
