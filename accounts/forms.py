"""Forms of the staff's sign-in pages in the admin (accounts/views.py)."""

from django import forms


class SecondFactorCodeForm(forms.Form):
    """The six digits an authenticator app shows."""

    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Code",
        error_messages={"invalid": "Type the 6 digits your authenticator app shows."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()


class PasswordResetRequestForm(forms.Form):
    """The admin login's "Forgotten your password?": the account's email."""

    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autofocus": True})
    )
