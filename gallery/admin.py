from django.contrib import admin

from .models import Photo


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "is_public", "width", "height", "created", "finished")
    list_filter = ("status", "is_public", "has_colour")
    search_fields = ("name", "owner__username", "id")
    raw_id_fields = ("owner",)
    readonly_fields = ("id", "original", "result", "thumb", "result_thumb", "runs", "worker", "started", "finished")
