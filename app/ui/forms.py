"""Flask-WTF forms of the staff UI.

They render fields, carry the CSRF token and collect strings. They do not decide what a valid
license is: the grid's cells go to the license service as typed, and the marshmallow schema's
per-field errors come back onto the cells. Field names of ``LicenseRowForm`` are the JSON field
names (SPEC section 1) for exactly that reason.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    database = SelectField("Database", validators=[DataRequired()])

    def __init__(self, database_names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database.choices = [(name, name) for name in database_names]


class LogoutForm(FlaskForm):
    """No fields: logging out is a POST that carries the CSRF token."""


class SearchForm(FlaskForm):
    """The provider-credential search; a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(
        "Provider ID, credential key or license number", validators=[Optional(), Length(max=100)]
    )


class LicenseRowForm(Form):
    """One grid row: the license's cells plus what the grid needs to save it safely."""

    providerCredLicense_Key = StringField("Key")
    credLicenseType_Key = StringField("Type")
    license_Name = StringField("License name")
    license_Number = StringField("Number")
    state = StringField("State")
    specialty_Code = StringField("Specialty")
    effective_Date = StringField("Effective")
    term_Date = StringField("Term")
    psV_Date = StringField("PSV")
    #: The row's ``update_date`` when the page was loaded (empty: a new row).
    version = HiddenField()
    #: The cells as loaded (JSON list): which cells a person changed, for Save and merges.
    loaded = HiddenField()
    #: After a conflict: the cells both people changed (comma-separated column names).
    conflicts = HiddenField()
    #: After a conflict: whose value the conflicting cells keep ("mine" or "theirs").
    #: Rendered as two radio buttons by the grid template; read as a string.
    resolve = StringField("Keep in the marked cells")
    delete = BooleanField("Delete")


class LicenseGridForm(FlaskForm):
    rows = FieldList(FormField(LicenseRowForm))


def prototype_row(placeholder: str = "__index__") -> FormField:
    """A grid row whose names hold ``placeholder`` for the index: the page's "Add row" template."""
    row = FormField(LicenseRowForm).bind(form=None, name=f"rows-{placeholder}", _meta=DefaultMeta())
    row.process(None)
    return row


class ImportUploadForm(FlaskForm):
    """A CSV file to preview against one ProviderCred's grid."""

    file = FileField("CSV file (the export's columns)", validators=[FileRequired()])


class ImportApplyForm(FlaskForm):
    """Apply a previewed import: the CSV text and the versions the preview saw."""

    csv = HiddenField(validators=[DataRequired()])
    versions = HiddenField()
