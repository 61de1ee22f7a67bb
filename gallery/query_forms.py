"""Forms for query strings: every parameter a view reads from ``request.GET`` goes through one.

A query string is typed by hand, pasted, cut short or probed (``?page=x``, ``?n=-5``,
``?metric=%00``): nothing in it may raise.  Most parameters only choose what a page shows, so a
junk value falls back to the field's default (QueryForm.values) and the page still answers; a
parameter a script depends on (the status endpoint's ids) is refused with a 400 and a message.
The staff leaderboard's own query form is gallery.staff_forms.LeaderboardForm.
"""

from __future__ import annotations

import uuid

from django import forms

MAX_STATUS_IDS = 100


class QueryForm(forms.Form):
    """A query string whose junk values fall back to each field's initial value."""

    @classmethod
    def values(cls, request) -> dict:
        form = cls(request.GET)
        form.is_valid()
        values = {}
        for name, field in form.fields.items():
            value = form.cleaned_data.get(name)
            values[name] = field.initial if value in (None, "") else value
        return values


class PageQuery(QueryForm):
    """?page=N of a paginated list (the pages and the API): anything but a positive number is page 1."""

    page = forms.IntegerField(min_value=1, required=False, initial=1)


class FileQuery(QueryForm):
    """A photo file's URL: ?download=1 asks for an attachment, ?v=<version> marks a URL that never changes."""

    download = forms.ChoiceField(choices=[("1", "1"), ("0", "0")], required=False, initial="0")
    v = forms.SlugField(max_length=64, required=False, initial="")


class CompareQuery(QueryForm):
    """The staff dashboard's ?a=<version id>&b=<version id>: the versions looked at side by side."""

    a = forms.UUIDField(required=False)
    b = forms.UUIDField(required=False)


class StatusQuery(forms.Form):
    """?ids=a,b,c for the status endpoint the pages poll.  Ids that are not UUIDs are skipped (a
    page may hold a stale or cut-off one); more than MAX_STATUS_IDS is refused."""

    ids = forms.CharField(required=False)

    def clean_ids(self) -> list[uuid.UUID]:
        ids = []
        for value in self.cleaned_data["ids"].split(","):
            try:
                ids.append(uuid.UUID(value.strip()))
            except ValueError:
                continue
        if len(ids) > MAX_STATUS_IDS:
            raise forms.ValidationError(f"ask for at most {MAX_STATUS_IDS} photos at once")
        return ids

    def error_message(self) -> str:
        return "; ".join(str(error) for errors in self.errors.values() for error in errors)
