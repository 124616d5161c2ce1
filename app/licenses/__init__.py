"""Provider credentialing licenses: the product's core entity."""
