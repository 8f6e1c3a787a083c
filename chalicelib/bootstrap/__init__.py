"""Bootstrap sync: applications and their jobs.json, with the spec's ownership lifecycle."""
