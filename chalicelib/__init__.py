"""Scheduler: HTTP jobs on cron schedules, served by Chalice, stored in DynamoDB, run through SQS."""
