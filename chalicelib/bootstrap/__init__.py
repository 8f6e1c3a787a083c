"""Bootstrap sync: applications and their jobs.json, with the spec's ownership lifecycle."""

SCOPE_PREFIX = "bootstrap:"  # a sync of application NAME writes as createdBy/updatedBy "bootstrap:NAME"
