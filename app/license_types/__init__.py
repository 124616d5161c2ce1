"""The configurable catalogue of license types (VBAPI CredLicenseType)."""
