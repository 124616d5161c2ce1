"""Imports every model so the metadata (and Alembic) sees all tables."""

from app.auth.models import ApiKey, RefreshToken, StaffUser
from app.credentials.models import ProviderCred
from app.history.models import LicenseChange, LicenseHistoryHead
from app.idempotency.models import IdempotencyRecord
from app.license_types.models import CredLicenseType
from app.licenses.models import ProviderCredLicense
from app.monitoring.models import MonitoringRun, MonitoringRunLicense

__all__ = [
    "ApiKey",
    "CredLicenseType",
    "IdempotencyRecord",
    "LicenseChange",
    "LicenseHistoryHead",
    "MonitoringRun",
    "MonitoringRunLicense",
    "ProviderCred",
    "ProviderCredLicense",
    "RefreshToken",
    "StaffUser",
]
