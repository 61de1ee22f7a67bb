from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete


class GalleryConfig(AppConfig):
    name = "gallery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import quota

        post_migrate.connect(register_default_model, sender=self)
        # However a photo is deleted (its owner, the admin, with its account), its bytes leave the quota.
        pre_delete.connect(quota.release_deleted_photo, sender=self.get_model("Photo"))


def register_default_model(sender, apps=None, **kwargs):
    """After every migrate (and every flush the tests make): the shipped model becomes the first version.

    A post_migrate handler rather than a data migration, because the model folder may arrive
    after the first migrate (and a flush empties the table without re-running migrations).
    """
    try:
        (apps or sender.apps).get_model("gallery", "ModelVersion")
    except LookupError:  # migrated back to before model versions existed
        return
    from .models import ModelVersion

    ModelVersion.register_default()
