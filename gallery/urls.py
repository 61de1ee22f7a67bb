from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.index, name="gallery-index"),
    path("upload/", views.upload, name="gallery-upload"),
    path("photos/", views.photo_list, name="gallery-list"),
    path("public/", views.public_list, name="gallery-public"),
    path("photos/<uuid:photo_id>/", views.photo_detail, name="gallery-photo"),
    path("photos/<uuid:photo_id>/files/<slug:kind>/", views.photo_file, name="gallery-photo-file"),
    path("photos/<uuid:photo_id>/delete/", views.photo_delete, name="gallery-photo-delete"),
    path("photos/<uuid:photo_id>/recolour/", views.photo_recolour, name="gallery-photo-recolour"),
    path("photos/<uuid:photo_id>/visibility/", views.photo_visibility, name="gallery-photo-visibility"),
    path("account/api-token/", views.api_token, name="gallery-api-token"),
    path("api/photos/", api.photos, name="api-photos"),
    path("api/photos/status/", api.status, name="api-status"),
    path("api/photos/<uuid:photo_id>/", api.photo, name="api-photo"),
    path("api/photos/<uuid:photo_id>/download/<slug:kind>/", api.download, name="api-photo-download"),
]
