"""Shared test configuration.

Site (Django) fixtures live in tests/site_fixtures.py, the staff pages' in tests/staff_fixtures.py;
engine tests need none of them.
"""

pytest_plugins = ["tests.site_fixtures", "tests.staff_fixtures", "tests.s3_server"]
