import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def _did_something(result) -> bool:
    return any(result.values()) if isinstance(result, dict) else bool(result)


class Command(BaseCommand):
    help = (
        "Run the jobs of CELERY_BEAT_SCHEDULE in this process. For the embedded default without "
        "Redis (make run); production runs `celery -A elvdesk beat` and workers instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running, every 60 seconds.")

    def handle(self, *args, loop: bool = False, **options):
        while True:
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
                task = import_string(entry["task"])
                try:
                    result = task.apply().get()
                except Exception:
                    if not loop:
                        raise
                    # One failing job (e.g. SQLite busy) must not stop the others; next round retries.
                    logger.exception("periodic job %s failed", name)
                    continue
                if not loop or _did_something(result):  # the loop reports only jobs that did something
                    self.stdout.write(f"{name}: {result}")
            if not loop:
                return
            time.sleep(60)
