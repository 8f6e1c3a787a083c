"""Blueprints per resource: parse, authorize, call a service. Routes come from the contracts."""
