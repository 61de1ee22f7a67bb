"""Photo.failure_code beside failure_reason, and old reasons rewritten to gallery.failures' sentences.

Reasons recorded before issue 10 were built from exception text and could name server paths
("the photo could not be stored ([Errno 30] Read-only file system: '/…/media/photos/…')"); each
is replaced by the fixed sentence for its kind, so no owner keeps reading one.  The sentences
are imported rather than copied: the mapping is by the old reasons' beginnings, which never change.
"""

from django.db import migrations, models

from gallery import failures

# The beginnings of the reasons the code wrote before, and what each one meant.
OLD_PHOTO_REASONS = (
    ("colouring is not possible right now", failures.MODEL_UNAVAILABLE),
    ("the photo could not be stored", failures.STORAGE_FAILED),
    ("the stored original cannot be read: [Errno 2]", failures.ORIGINAL_MISSING),
    ("the stored original cannot be read", failures.ORIGINAL_UNREADABLE),
    ("colouring took longer than", failures.TIMED_OUT),
    ("the worker colouring this photo stopped unexpectedly", failures.WORKER_LOST),
)
OLD_TRAINING_REASONS = (
    ("cancelled by an admin", failures.TRAINING_CANCELLED),
    ("cancelled before it started", failures.TRAINING_CANCELLED_EARLY),
    ("training took longer than", failures.TRAINING_TIMED_OUT),
    ("the training process stopped", failures.TRAINING_PROCESS_LOST),
    ("the training worker stopped without finishing", failures.TRAINING_ABANDONED),
)


def _matching(reason: str, table, otherwise):
    return next((failure for start, failure in table if reason.startswith(start)), otherwise)


def rewrite_reasons(apps, schema_editor):
    Photo = apps.get_model("gallery", "Photo")
    for photo in Photo.objects.exclude(failure_reason="").only("pk", "failure_reason").iterator():
        failure = _matching(photo.failure_reason, OLD_PHOTO_REASONS, failures.UNEXPECTED)
        Photo.objects.filter(pk=photo.pk).update(failure_reason=failure.reason, failure_code=failure.code)
    ModelVersion = apps.get_model("gallery", "ModelVersion")
    for version in ModelVersion.objects.exclude(failure_reason="").only("pk", "failure_reason").iterator():
        failure = _matching(version.failure_reason, OLD_TRAINING_REASONS, failures.TRAINING_FAILED)
        ModelVersion.objects.filter(pk=version.pk).update(failure_reason=failure.reason)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0004_photos_report"),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="failure_code",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.RunPython(rewrite_reasons, migrations.RunPython.noop),
    ]
