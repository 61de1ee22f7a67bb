"""Forms of the staff pages: a training run's parameters, a leaderboard's metric, size and test split."""

from __future__ import annotations

from django import forms
from django.conf import settings

from ml.families import FAMILIES
from ml.grid import ARCHITECTURES, INPUT_MULTIPLES
from ml.leaderboard import RANKINGS

from . import training_runs
from .models import ModelVersion

# Training crops on offer: the engine takes multiples of 32 (lite0_unet) or 8 (scratch) in [16, 160];
# the landscape photos are 150 px, the everyday photos 160 px.
TRAINING_CROPS = (32, 48, 64, 96, 128, 144, 160)
LANDSCAPE_SIDE = 150
WIDTHS = (4, 8, 16, 24, 32, 48, 64)
ARCH_LABELS = {
    "lite0_unet": "lite0_unet: U-Net on the ImageNet-pretrained EfficientNet-Lite0",
    "scratch": "scratch: the small network trained from nothing (the first engine's)",
}
METRIC_LABELS = {"rmse_ab": "RMSE_ab", "psnr": "PSNR", "colourfulness_gap": "colourfulness gap"}
SET_LABELS = {"landscape": "landscape", "photos": "everyday photos"}
KIND_CHOICES = [
    (training_runs.FINE_TUNE_KIND, "Fine-tune the active version (a few minutes on the CPU)"),
    (training_runs.FULL_KIND, "Full run with the parameters below"),
]
# What a full run cannot do without; the other fields have a meaning of their own when blank.
FULL_RUN_REQUIRED = ("family", "arch", "epochs", "batch_size", "learning_rate", "crop", "mix")


class TrainingForm(forms.Form):
    """A training run: a fine-tune of the active version or a full run; the cleaned data is the run's parameters.

    The full run's fields are optional to the browser so that a fine-tune needs none of them;
    clean() requires them for a full run and checks the combinations the engine would refuse
    (a crop the architecture cannot take, a crop larger than the landscape photos, …), so a
    run that is queued can start.
    """

    kind = forms.ChoiceField(
        label="Kind of run", choices=KIND_CHOICES, initial=training_runs.FINE_TUNE_KIND, widget=forms.RadioSelect
    )
    family = forms.ChoiceField(
        choices=[(f, f) for f in FAMILIES],
        initial="classification",
        required=False,
        help_text="classification: Zhang et al. with class rebalancing; regression: MSE on ab",
    )
    arch = forms.ChoiceField(
        label="Architecture",
        choices=[(a, ARCH_LABELS[a]) for a in ARCHITECTURES],
        initial="lite0_unet",
        required=False,
    )
    epochs = forms.IntegerField(min_value=1, max_value=200, initial=8, required=False)
    frozen_epochs = forms.IntegerField(
        label="Frozen epochs",
        min_value=0,
        max_value=200,
        initial=1,
        required=False,
        help_text="lite0_unet only: first epochs with the pretrained encoder fixed (of the epochs above)",
    )
    steps_per_epoch = forms.IntegerField(
        label="Steps per epoch",
        min_value=1,
        max_value=100_000,
        required=False,
        help_text="batches per epoch; blank: one pass over the training photos",
    )
    batch_size = forms.IntegerField(min_value=1, max_value=256, initial=32, required=False)
    learning_rate = forms.FloatField(min_value=1e-5, max_value=0.1, initial=1e-3, required=False)
    crop = forms.TypedChoiceField(
        label="Training crop",
        coerce=int,
        choices=[(s, f"{s} px") for s in TRAINING_CROPS],
        initial=128,
        required=False,
        help_text="the side of the square crops trained on: a multiple of 32 for lite0_unet",
    )
    mix = forms.FloatField(
        label="Landscape share",
        min_value=0.0,
        max_value=1.0,
        initial=0.3,
        required=False,
        help_text="of each batch, the rest being everyday photos (0: photos only, 1: landscape only)",
    )
    filters = forms.TypedChoiceField(
        label="Model width",
        coerce=int,
        choices=[(w, str(w)) for w in WIDTHS],
        initial=32,
        required=False,
        help_text="scratch only: filters of the first block (then 2×, 4×)",
    )
    depth = forms.IntegerField(
        label="Model depth",
        min_value=1,
        max_value=8,
        initial=4,
        required=False,
        help_text="scratch only: dilated context blocks at 1/8 size",
    )
    max_examples = forms.IntegerField(
        label="Max examples",
        min_value=1,
        required=False,
        help_text="for a quick check, either kind: only the first N train and validation photos",
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind = data.get("kind")
        if kind == training_runs.FINE_TUNE_KIND:
            try:
                parameters = training_runs.fine_tune_parameters(
                    ModelVersion.active(), max_examples=data.get("max_examples")
                )
            except ValueError as exc:
                self.add_error("kind", str(exc))  # our own messages, written for the page
                return data
        elif kind == training_runs.FULL_KIND:
            full = self._full_run(data)
            if full is None:
                return data
            parameters = full
        else:
            return data  # the field has its error already
        small, batch = parameters.get("max_examples"), parameters["batch_size"]
        if small and small < batch:
            # the engine drops incomplete batches: fewer photos than a batch would train on nothing
            self.add_error("max_examples", f"use at least one batch ({batch} photos), or a smaller batch size")
        return parameters

    def _full_run(self, data: dict) -> dict | None:
        """A full run's parameters, or None after adding the errors that stop it."""
        missing = [name for name in FULL_RUN_REQUIRED if data.get(name) in (None, "") and name not in self.errors]
        for name in missing:
            self.add_error(name, "A full run needs this.")
        arch = data.get("arch") or ""
        if arch == "scratch":
            for name in ("filters", "depth"):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, "A scratch network needs its width and depth.")
        if self.errors:
            return None
        crop, multiple = data["crop"], INPUT_MULTIPLES[arch]
        if crop % multiple:
            fitting = ", ".join(str(c) for c in TRAINING_CROPS if c % multiple == 0)
            self.add_error(
                "crop", f"The {arch} network needs a training crop that is a multiple of {multiple}: {fitting}."
            )
        if crop > LANDSCAPE_SIDE and data["mix"] > 0:
            self.add_error(
                "crop",
                f"The landscape photos are {LANDSCAPE_SIDE} px: a {crop} px crop needs a landscape share of 0.",
            )
        frozen = (data.get("frozen_epochs") or 0) if arch == "lite0_unet" else 0
        if frozen > data["epochs"]:
            self.add_error("frozen_epochs", "The frozen epochs are part of the epochs: use at most as many.")
        if self.errors:
            return None
        parameters = {
            "kind": training_runs.FULL_KIND,
            "family": data["family"],
            "arch": arch,
            "epochs": data["epochs"],
            "frozen_epochs": frozen,
            "steps_per_epoch": data.get("steps_per_epoch"),
            "batch_size": data["batch_size"],
            "learning_rate": data["learning_rate"],
            "crop": crop,
            "mix": data["mix"],
            "max_examples": data.get("max_examples"),
        }
        if arch == "scratch":
            parameters.update(filters=data["filters"], depth=data["depth"])
        return parameters


class LeaderboardForm(forms.Form):
    """The leaderboard's query: every field falls back to its default, so junk never stops the page.

    Plain text fields, normalised here: a choice field would leave a junk value out of
    cleaned_data altogether.
    """

    metric = forms.CharField(required=False)
    n = forms.CharField(required=False)
    set = forms.CharField(required=False)

    def clean_metric(self):
        metric = self.cleaned_data["metric"]
        return metric if metric in RANKINGS else "rmse_ab"

    def clean_n(self):
        # Out-of-range sizes are clamped rather than refused: the page always shows something.
        default = min(6, settings.COLORSITE_LEADERBOARD_SIZE)
        try:
            n = int(self.cleaned_data["n"] or default)
        except ValueError:
            n = default
        return max(1, min(n, settings.COLORSITE_LEADERBOARD_SIZE))

    def clean_set(self):
        value = self.cleaned_data["set"]
        return value if value in ModelVersion.COLLECTIONS else "landscape"


class ConfirmForm(forms.Form):
    """The explicit yes a guarded activation or a rollback needs (gallery.activation_guard).

    ``against`` is the version that was active when the confirmation page was drawn: a yes given
    while looking at other figures (someone activated another version meanwhile) does not count.
    """

    confirm = forms.BooleanField(required=False)
    against = forms.UUIDField(required=False)

    def confirms(self, active: ModelVersion | None) -> bool:
        """True when the person said yes, with the version active now in front of them."""
        if not self.is_valid() or not self.cleaned_data["confirm"]:
            return False
        return self.cleaned_data["against"] == (active.pk if active is not None else None)
