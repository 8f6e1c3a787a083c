"""The invoker: parameter resolution, URL guard, the HTTP call and the execution record."""
