"""python manage.py refresh_analytics [--view analytics_location_day]: refresh the views now."""

from django.core.management.base import BaseCommand

from analytics.models import ReportView
from analytics.services import view_refresh


class Command(BaseCommand):
    help = "Refresh the analytics views concurrently (skips a view another process is refreshing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--view", choices=ReportView.values, action="append")

    def handle(self, *args, view: list[str] | None, **options) -> None:
        for name in view or ReportView.values:
            refresh = view_refresh(view=ReportView(name))
            if refresh is None:
                self.stdout.write(f"{name}: skipped, another refresh of it is running")
            else:
                seconds = refresh.duration.total_seconds()
                self.stdout.write(f"{name}: refreshed in {seconds:.2f} s, as of {refresh.as_of}")
