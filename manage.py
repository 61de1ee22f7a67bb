#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Without a SECRET_KEY in the environment this is a development checkout (a production environment
always sets one, docs/deploy.md), so commands get `make run`'s development settings (DEBUG on,
SQLite under var/): `.venv/bin/python manage.py createsuperuser` works from a fresh clone and
writes to the database `make run` uses.  With a SECRET_KEY set, nothing is assumed.
"""

import os
import sys


def main():
    if "SECRET_KEY" not in os.environ:
        os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
