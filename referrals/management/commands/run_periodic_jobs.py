import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


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
                result = task.apply().get()
                if result or not loop:  # the loop reports only jobs that did something
                    self.stdout.write(f"{name}: {result}")
            if not loop:
                return
            time.sleep(60)
