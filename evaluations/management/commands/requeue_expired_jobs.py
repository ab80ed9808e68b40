from django.core.management.base import BaseCommand

from evaluations.queue import requeue_expired


class Command(BaseCommand):
    help = (
        "Send running evaluation jobs whose lease expired back to the queue, and fail those tried "
        "EVALUATION_MAX_ATTEMPTS times. Claims do this too; run it from cron to keep the queue's state current."
    )

    def handle(self, *args, **options) -> None:
        outcome = requeue_expired()
        self.stdout.write(f"Requeued {outcome.requeued} job(s); failed {outcome.failed} after too many attempts.")
