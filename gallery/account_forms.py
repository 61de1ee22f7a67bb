"""Forms of a person's account: sign-up, e-mail address, API token names, deleting the account."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

EMAIL_HELP = "Where a password-reset link goes if you forget your password; never shown to anybody."


class SignupForm(UserCreationForm):
    """A new account: a user name, an e-mail address (required: it is the only way back in after a
    forgotten password) and a password twice."""

    email = forms.EmailField(label="E-mail address", help_text=EMAIL_HELP)

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class EmailForm(forms.ModelForm):
    """Change one's e-mail address; accounts made before sign-up asked for one add it here."""

    email = forms.EmailField(label="E-mail address", help_text=EMAIL_HELP)

    class Meta:
        model = get_user_model()
        fields = ("email",)


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What the token is for, e.g. the script or machine that uses it.",
    )


class DeleteAccountForm(forms.Form):
    """Deleting an account is confirmed by its password, so an unattended logged-in browser cannot do it."""

    password = forms.CharField(label="Your password", strip=False, widget=forms.PasswordInput)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password; nothing was deleted.")
        return password
