def test_health_needs_no_token(api):
    answer = api.as_user(None).get("/_/scheduler/health")
    assert answer.status == 200
    assert answer.json == {"status": "ok"}


def test_create_and_get_job(api):
    app = api.make_app()
    job = api.make_job(app["id"])
    answer = api.get(f"/_/scheduler/jobs/{job['id']}")
    assert answer.status == 200, answer.body
    assert answer.json["status"] == "scheduled"
    assert answer.json["application"] == {"id": app["id"], "name": "demo", "displayName": "Demo"}


def test_health_is_503_when_the_store_is_unreachable(api):
    import boto3

    from chalicelib.settings import get_settings

    boto3.client("dynamodb").delete_table(TableName=get_settings().applications_table)
    answer = api.as_user(None).get("/_/scheduler/health")
    assert answer.status == 503 and answer.json["error"]["code"] == "UNAVAILABLE"
