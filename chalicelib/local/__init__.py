"""The local stack: moto, the tables from infra/template.yaml, the API, the tick and the invoker poller."""
