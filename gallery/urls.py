from django.urls import path

from . import account_views, api, batch_views, health_views, share_views, staff_views, views

urlpatterns = [
    path("", views.index, name="gallery-index"),
    # the front page's sample pictures (gallery/samples.py) and the icon browsers ask for at the root
    path("samples/<slug:name>/<slug:kind>/", views.sample_file, name="gallery-sample"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("upload/", views.upload, name="gallery-upload"),
    path("photos/", views.photo_list, name="gallery-list"),
    path("public/", views.public_list, name="gallery-public"),
    path("photos/<uuid:photo_id>/", views.photo_detail, name="gallery-photo"),
    path("photos/<uuid:photo_id>/files/<slug:kind>/", views.photo_file, name="gallery-photo-file"),
    path("photos/<uuid:photo_id>/delete/", views.photo_delete, name="gallery-photo-delete"),
    path("photos/<uuid:photo_id>/recolour/", views.photo_recolour, name="gallery-photo-recolour"),
    path("photos/<uuid:photo_id>/visibility/", views.photo_visibility, name="gallery-photo-visibility"),
    # sharing and batches (issue 11, items 9 and 10): gallery/share_views.py, gallery/batch_views.py
    path("photos/batch/", batch_views.batch, name="gallery-batch"),
    path("photos/<uuid:photo_id>/share/", share_views.share_create, name="gallery-photo-share"),
    path("photos/<uuid:photo_id>/share/revoke/", share_views.share_revoke, name="gallery-photo-share-revoke"),
    path("s/<slug:key>/", share_views.share_page, name="gallery-share"),
    path("s/<slug:key>/files/<slug:kind>/", share_views.share_file, name="gallery-share-file"),
    # a photo's kept results (history): serve, make current, delete
    path(
        "photos/<uuid:photo_id>/colourings/<int:colouring_id>/files/<slug:kind>/",
        views.colouring_file,
        name="gallery-colouring-file",
    ),
    path(
        "photos/<uuid:photo_id>/colourings/<int:colouring_id>/current/",
        views.colouring_current,
        name="gallery-colouring-current",
    ),
    path(
        "photos/<uuid:photo_id>/colourings/<int:colouring_id>/delete/",
        views.colouring_delete,
        name="gallery-colouring-delete",
    ),
    path("account/", account_views.account, name="account"),
    path("account/delete/", account_views.account_delete, name="account-delete"),
    path("account/api-token/", account_views.api_tokens, name="gallery-api-token"),
    path("account/api-token/<int:token_id>/revoke/", account_views.api_token_revoke, name="gallery-api-token-revoke"),
    path("api/photos/", api.photos, name="api-photos"),
    path("api/photos/status/", api.status, name="api-status"),
    path("api/photos/<uuid:photo_id>/", api.photo, name="api-photo"),
    path("api/photos/<uuid:photo_id>/download/<slug:kind>/", api.download, name="api-photo-download"),
    path("api/usage/", api.usage, name="api-usage"),
    # staff: evaluation dashboard, training runs, activation and rollback, leaderboards (gallery/staff_views.py)
    path("staff/", staff_views.dashboard, name="staff-dashboard"),
    path("staff/train/", staff_views.train, name="staff-train"),
    path("staff/rollback/", staff_views.rollback, name="staff-rollback"),
    path("staff/versions/<uuid:version_id>/progress/", staff_views.version_progress, name="staff-version-progress"),
    path("staff/versions/<uuid:version_id>/cancel/", staff_views.version_cancel, name="staff-version-cancel"),
    path("staff/versions/<uuid:version_id>/activate/", staff_views.version_activate, name="staff-version-activate"),
    path("staff/versions/<uuid:version_id>/leaderboard/", staff_views.leaderboard, name="staff-leaderboard"),
    path(
        "staff/versions/<uuid:version_id>/pictures/<slug:stem>/",
        staff_views.leaderboard_picture,
        name="staff-leaderboard-picture",
    ),
    path("staff/uploads/<uuid:photo_id>/files/<slug:kind>/", staff_views.upload_file, name="staff-upload-file"),
    path("healthz", health_views.healthz, name="healthz"),  # load balancers: gallery/health.py
]
