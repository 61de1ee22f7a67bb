"""`manage.py health`: the /healthz answer for an operator at a terminal (exit status 1 when anything is wrong)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from gallery.health import site_health


class Command(BaseCommand):
    help = "Check the database, the broker, the media storage and the active model; exit 1 if any is not ok."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the JSON that GET /healthz answers")

    def handle(self, *args, **options):
        health = site_health()
        if options["json"]:
            self.stdout.write(json.dumps(health, indent=1))
        else:
            for name, check in health["checks"].items():
                self.stdout.write(f"{name:<9} {'ok' if check['ok'] else 'FAIL':<5} {check['status']}")
        if not health["ok"]:
            raise CommandError("not healthy: " + ", ".join(n for n, c in health["checks"].items() if not c["ok"]))
