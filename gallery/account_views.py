"""A person's account: sign-up, the account page (e-mail address), API tokens, deleting the account.

Password change and reset are Django's own views (django.contrib.auth.urls) with the site's
templates in templates/registration/.  Every POST here answers with a redirect (post/redirect/get),
so reloading a page never repeats what a form did.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .account_forms import DeleteAccountForm, EmailForm, SignupForm, TokenForm
from .accounts import delete_account
from .models import ApiToken

# The session key that carries a new token's plain text from the POST to the one GET that shows it.
NEW_TOKEN_KEY = "new_api_token"


@require_http_methods(["GET", "POST"])
def signup(request):
    if not settings.COLORSITE_OPEN_SIGNUP:
        raise Http404("sign-up is closed on this site")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save())
        return redirect("gallery-upload")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account(request):
    """The account page: the e-mail address (editable), and links to the password, tokens and deletion."""
    form = EmailForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your e-mail address is saved.")
        return redirect("account")
    return render(request, "gallery/account.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Delete the account and all its photos and files, once the person has typed their password."""
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = request.user.username
        count = delete_account(request.user)
        logout(request)
        messages.success(request, f"The account {username} and its {count} photo(s) are deleted.")
        return redirect("gallery-public")
    photos = request.user.photos.count()
    return render(request, "gallery/account_delete.html", {"form": form, "photos": photos})


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """List the person's API tokens and make new ones.

    A new token's plain text goes through the session to the next GET, which shows it once and
    forgets it; only its hash is kept.  So a reload shows the list, and never makes another token.
    """
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        request.session[NEW_TOKEN_KEY] = ApiToken.issue(request.user, form.cleaned_data["name"])
        return redirect("gallery-api-token")
    context = {
        "form": form,
        "new_token": request.session.pop(NEW_TOKEN_KEY, None),
        "tokens": ApiToken.objects.filter(user=request.user),
    }
    return render(request, "gallery/api_token.html", context)


@login_required
@require_POST
def api_token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.delete()
    messages.success(request, f"The token “{token.name}” is revoked: scripts using it are turned away now.")
    return redirect("gallery-api-token")
