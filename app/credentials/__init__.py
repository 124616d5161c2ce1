"""Provider credentials (VBAPI ProviderCred): the parent of licenses."""
