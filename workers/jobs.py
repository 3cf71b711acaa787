"""Names and ids of jobs, shared by the API (which enqueues) and the workers."""

SEND_ALERT = "send_alert"


def alert_job_id(outbox_id: int) -> str:
    # A fixed id per outbox row: arq refuses a second enqueue while one is queued
    # or its result is kept, so the sweep and the API cannot double-queue a row.
    return f"alert:{outbox_id}"
