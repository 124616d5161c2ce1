"""The VBAPI-compatible JSON API: envelope, request checks, auth and blueprints."""
