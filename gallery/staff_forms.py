"""Forms of the staff pages: a training run's parameters, a leaderboard's metric and size."""

from __future__ import annotations

from django import forms
from django.conf import settings

from ml.families import FAMILIES
from ml.leaderboard import RANKINGS

# Training crops the engine accepts that fit the 150 px photos (multiples of 8).
WORKING_SIZES = (64, 96, 128, 144)
WIDTHS = (4, 8, 16, 24, 32, 48, 64)
METRIC_LABELS = {"rmse_ab": "RMSE_ab", "psnr": "PSNR", "colourfulness_gap": "colourfulness gap"}


class TrainingForm(forms.Form):
    """A training run; the cleaned data is the run's parameters, stored with its version."""

    family = forms.ChoiceField(
        choices=[(f, f) for f in FAMILIES],
        initial="classification",
        help_text="classification: Zhang et al. with class rebalancing; regression: MSE on ab",
    )
    epochs = forms.IntegerField(min_value=1, max_value=200, initial=12)
    learning_rate = forms.FloatField(min_value=1e-5, max_value=0.1, initial=2e-3)
    crop = forms.TypedChoiceField(
        label="Working size",
        coerce=int,
        choices=[(s, f"{s} px") for s in WORKING_SIZES],
        initial=128,
        help_text="the side of the training crops",
    )
    filters = forms.TypedChoiceField(
        label="Model width",
        coerce=int,
        choices=[(w, str(w)) for w in WIDTHS],
        initial=32,
        help_text="filters of the first block (then 2×, 4×)",
    )
    depth = forms.IntegerField(
        label="Model depth", min_value=1, max_value=8, initial=4, help_text="dilated context blocks at 1/8 size"
    )
    batch_size = forms.IntegerField(min_value=1, max_value=256, initial=32)
    max_examples = forms.IntegerField(
        label="Max examples",
        min_value=1,
        required=False,
        help_text="for a quick run: only the first N train and validation photos",
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        small, batch = data.get("max_examples"), data.get("batch_size")
        if small and batch and small < batch:
            # the engine drops incomplete batches: fewer photos than a batch would train on nothing
            self.add_error("max_examples", f"use at least one batch ({batch} photos), or a smaller batch size")
        return data


class LeaderboardForm(forms.Form):
    metric = forms.ChoiceField(choices=[(m, METRIC_LABELS[m]) for m in RANKINGS], required=False)
    n = forms.IntegerField(min_value=1, required=False)

    def clean_metric(self):
        return self.cleaned_data["metric"] or "rmse_ab"

    def clean_n(self):
        # Out-of-range sizes are clamped rather than refused: the page always shows something.
        n = self.cleaned_data["n"] or min(6, settings.COLORSITE_LEADERBOARD_SIZE)
        return max(1, min(n, settings.COLORSITE_LEADERBOARD_SIZE))
