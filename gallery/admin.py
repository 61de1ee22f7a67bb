from django.contrib import admin

from .models import ModelVersion, Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "is_public", "width", "height", "model_version", "created", "finished")
    list_filter = ("status", "is_public", "has_colour", "model_version")
    search_fields = ("name", "owner__username", "id")
    raw_id_fields = ("owner",)
    readonly_fields = (
        "id",
        "original",
        "result",
        "thumb",
        "result_thumb",
        "runs",
        "worker",
        "started",
        "finished",
        "model_version",
    )


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Read-only: versions are made by training runs and changed on the staff dashboard (linked above the list)."""

    list_display = ("label", "state", "is_active", "family", "created_by", "created", "finished")
    list_filter = ("state", "is_active", "family")
    exclude = ("evaluation", "summary", "photos_evaluation", "photos_summary", "progress", "pictures")
    change_list_template = "admin/gallery/modelversion/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
