"""`python manage.py colour_samples [--force]`: colour the front page's sample photos now, in this process.

`make run` has its colouring worker do it at start-up; a production deploy runs this once after
each model activation it wants the front page to show (see gallery.samples).
"""

from django.core.management.base import BaseCommand

from gallery.samples import current
from gallery.tasks import colour_samples


class Command(BaseCommand):
    help = "Colour the front page's before/after samples with the active model (skipped if it made them already)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="colour them again even if this model made them")

    def handle(self, *args, force: bool = False, **options):
        colour_samples(force=force)
        index = current() or {}
        self.stdout.write(f"{len(index.get('samples', []))} samples, coloured by {index.get('model', 'nobody')}")
