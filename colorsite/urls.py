from django.contrib import admin
from django.urls import include, path

from gallery import views as gallery_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/signup/", gallery_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("gallery.urls")),
]
