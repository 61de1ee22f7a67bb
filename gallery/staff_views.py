"""Staff pages: the evaluation dashboard, training runs, activation and rollback, leaderboards.

Who may do what: anonymous visitors are sent to the login page, people who are not staff get
403, staff members see everything here, and only admins (the ``gallery.manage_models``
permission, which superusers have) start and cancel runs and change the active model.
Every figure comes from a version's stored report; nothing is computed from a model here.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import activation_guard, training_runs
from .models import ModelVersion, Photo
from .photo_io import serve_file
from .query_forms import CompareQuery
from .reports import side_by_side
from .staff_forms import METRIC_LABELS, SET_LABELS, ConfirmForm, LeaderboardForm, TrainingForm
from .staff_progress import progress_report

MANAGE_PERMISSION = "gallery.manage_models"
# A colour upload's renditions a leaderboard shows: grey input | prediction | target.
UPLOAD_KINDS = ("grey", "result-preview", "preview")


def can_manage_models(user) -> bool:
    return user.is_active and user.is_staff and user.has_perm(MANAGE_PERMISSION)


def staff_required(view):
    """Anonymous -> the login page; signed in but not staff -> 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    """Staff with the manage_models permission (or superusers); anybody else signed in gets 403."""

    @staff_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_manage_models(request.user):
            raise PermissionDenied("only admins may change models")
        return view(request, *args, **kwargs)

    return wrapper


def light_version(version_id) -> ModelVersion:
    """A version without its per-image report (ModelVersion.LIGHT), or 404: all the small views need."""
    return get_object_or_404(ModelVersion.objects.defer(*ModelVersion.LIGHT), pk=version_id)


def dashboard_context(request, form: TrainingForm | None = None) -> dict:
    """The dashboard's versions, the one or two being looked at, the run in progress and the form."""
    versions = list(ModelVersion.objects.defer(*ModelVersion.LIGHT).select_related("created_by"))
    by_id = {str(v.pk): v for v in versions}
    active = next((v for v in versions if v.is_active), None)
    compare = CompareQuery.values(request)
    first = by_id.get(str(compare["a"])) or active or (versions[0] if versions else None)
    second = by_id.get(str(compare["b"]))
    return {
        "candidate": activation_candidate(versions, active, first),
        "versions": versions,
        "active": active,
        "shown": [v for v in (first, second) if v],
        "first": first,
        "second": second if second != first else None,
        "running": [(v, progress_report(v)) for v in versions if v.in_progress],
        "can_manage": can_manage_models(request.user),
        "form": form or TrainingForm(),
        "metric_labels": METRIC_LABELS,
    }


def activation_candidate(
    versions: list[ModelVersion], active: ModelVersion | None, looked_at: ModelVersion | None
) -> ModelVersion | None:
    """The ready version to show against the active one: the one looked at, else the newest not yet activated.

    "Newest" means made after the active version (a run that has just ended), so an admin sees
    its figures beside the active version's before the Activate button, without asking.
    """
    if active is None:
        return None
    if looked_at is not None and looked_at.state == ModelVersion.READY and not looked_at.is_active:
        return looked_at
    return next((v for v in versions if v.state == ModelVersion.READY and v.number > active.number), None)


@staff_required
@require_GET
def dashboard(request):
    return render(request, "gallery/staff/dashboard.html", dashboard_context(request))


@admin_required
@require_POST
def train(request):
    form = TrainingForm(request.POST)
    if not form.is_valid():
        return render(request, "gallery/staff/dashboard.html", dashboard_context(request, form), status=400)
    version = training_runs.start(form.cleaned_data, created_by=request.user)
    if version is None:
        messages.error(request, "A training run is already queued or in progress; wait for it or cancel it.")
    else:
        messages.success(request, f"Training {version.label} is queued.")
    return redirect("staff-dashboard")


@staff_required
@require_GET
def version_progress(request, version_id):
    """The progress bar's data, polled by static/gallery/staff.js."""
    version = light_version(version_id)
    return JsonResponse(progress_report(version))


@admin_required
@require_POST
def version_cancel(request, version_id):
    version = light_version(version_id)
    if training_runs.request_cancel(version):
        messages.success(request, f"Cancelling {version.label}; the active model is unchanged.")
    else:
        messages.error(request, f"{version.label} is not queued or training, so there is nothing to cancel.")
    return redirect("staff-dashboard")


def active_version() -> ModelVersion | None:
    """The active version with its summaries (what the activation guard compares), without its per-image rows."""
    return ModelVersion.objects.defer(*ModelVersion.LIGHT).filter(is_active=True).first()


def confirmation_page(request, candidate: ModelVersion, active: ModelVersion | None, *, rollback: bool):
    """The figures side by side and a form whose only way forward is an explicit confirm (gallery.activation_guard)."""
    return render(
        request,
        "gallery/staff/confirm_activation.html",
        {
            "candidate": candidate,
            "active": active,
            "rollback": rollback,
            "concerns": activation_guard.concerns(candidate, active),
            "rows": side_by_side(candidate, active),
            "action": reverse("staff-rollback") if rollback else reverse("staff-version-activate", args=[candidate.pk]),
        },
    )


@admin_required
@require_POST
def version_activate(request, version_id):
    """Activate a ready version; one worse than grey or than the active version first asks for a confirm."""
    version = light_version(version_id)
    active = active_version()
    if (
        version.state == ModelVersion.READY
        and activation_guard.concerns(version, active)
        and not ConfirmForm(request.POST).confirms(active)
    ):
        return confirmation_page(request, version, active, rollback=False)
    if version.activate():
        messages.success(request, f"{version.label} is active: workers colour with it from their next photo.")
    else:
        messages.error(request, f"{version.label} is {version.state}; only a ready version can be activated.")
    return redirect("staff-dashboard")


@admin_required
@require_POST
def rollback(request):
    """Go back to the previously active version, always after a confirm with both versions' figures in view."""
    active = active_version()
    previous = light_version(active.previous_id) if active is not None and active.previous_id else None
    if previous is not None and not ConfirmForm(request.POST).confirms(active):
        return confirmation_page(request, previous, active, rollback=True)
    restored = ModelVersion.rollback()
    if restored is None:
        messages.error(request, "There is no earlier version to go back to.")
    else:
        messages.success(request, f"Rolled back: {restored.label} is active again.")
    return redirect("staff-dashboard")


@staff_required
@require_GET
def leaderboard(request, version_id):
    """Best and worst photos of one test split of a version by a metric, and the users' colour uploads ranked alike."""
    form = LeaderboardForm(request.GET)
    form.is_valid()  # every field falls back to a default, so the form is never invalid
    metric, n, collection = form.cleaned_data["metric"], form.cleaned_data["n"], form.cleaned_data["set"]
    other_reports = [field for c, (_, _, field) in ModelVersion.REPORTS.items() if c != collection]
    version = get_object_or_404(ModelVersion.objects.defer(*other_reports), pk=version_id, state=ModelVersion.READY)
    best, worst = version.ranked(metric, n, collection)
    if version.pictures_state != ModelVersion.PICTURES_READY:
        version.request_pictures()  # drawn once per version, by the training worker
    uploads = Photo.objects.ranked_by(metric, version).only(
        "id",
        "name",
        "grey_preview",
        "preview",
        "result_preview",
        "rmse_ab",
        "psnr",
        "colourfulness",
        "colourfulness_true",
    )
    return render(
        request,
        "gallery/staff/leaderboard.html",
        {
            "version": version,
            "form": form,
            "metric": metric,
            "metric_label": METRIC_LABELS[metric],
            "set": collection,
            "set_label": SET_LABELS[collection],
            "set_labels": SET_LABELS,
            "n": n,
            "best": best,
            "worst": worst,
            "uploads_best": uploads[:n],
            "uploads_worst": uploads.reverse()[:n],
            "metric_labels": METRIC_LABELS,
            "sizes": range(1, settings.COLORSITE_LEADERBOARD_SIZE + 1),
        },
    )


@staff_required
@require_GET
def leaderboard_picture(request, version_id, stem):
    """One stored grey | prediction | target picture of a test photo."""
    version = get_object_or_404(ModelVersion.objects.only("id", "pictures"), pk=version_id)
    name = version.picture_name(stem)
    if name is None:
        raise Http404("no picture of that photo for this version")
    from django.core.files.storage import default_storage

    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@staff_required
@require_GET
def upload_file(request, photo_id, kind):
    """A colour upload's grey input, prediction or original preview, for the uploads leaderboard.

    Only these renditions, and only of colour uploads that are done: staff get no other way
    into people's private photos.
    """
    if kind not in UPLOAD_KINDS:
        raise Http404("not a leaderboard picture")
    photo = get_object_or_404(Photo, pk=photo_id, has_colour=True, status=Photo.DONE)
    return serve_file(request, photo, kind, download=False)
