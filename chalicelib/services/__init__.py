"""Services: the product's rules between the API and the store (tenancy, validation, events)."""
