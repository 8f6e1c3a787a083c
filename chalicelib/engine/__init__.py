"""The engine: cron and time zones, the minute tick, dispatch of due slots to the invoker queue."""
