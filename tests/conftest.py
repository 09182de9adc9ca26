"""Shared pytest configuration.

Fixtures that start real components live in tests/plugins/ (one module per component) so that
every test area can use them.
"""

pytest_plugins = ["tests.plugins.broker", "tests.plugins.stores", "tests.plugins.clamd"]
