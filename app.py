"""Chalice app: registers the API blueprints, the minute tick and the invoker. Wiring only."""

from chalice import Chalice

from chalicelib.api import applications, jobs, system

app = Chalice(app_name="scheduler")
app.register_blueprint(system.bp)
app.register_blueprint(applications.bp)
app.register_blueprint(jobs.bp)
