"""python manage.py refresh_analytics [--touched | --view analytics_location_day]

Rebuilds the figure tables whole (every table, or those named), or with --touched recomputes
only the days writes have touched since the last refresh, as beat does every few minutes.
"""

from django.core.management.base import BaseCommand

from analytics.models import ReportView
from analytics.services import figures_update, table_rebuild


class Command(BaseCommand):
    help = "Rebuild the analytics tables, or with --touched recompute only the touched days."

    def add_arguments(self, parser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--view", choices=ReportView.values, action="append")
        which.add_argument(
            "--touched", action="store_true", help="Only the days changed since the last refresh."
        )

    def handle(self, *args, view: list[str] | None, touched: bool, **options) -> None:
        if touched:
            update = figures_update()
            if update is None:
                self.stdout.write("skipped: another refresh of the tables is running")
            else:
                seconds = update.duration.total_seconds()
                self.stdout.write(
                    f"touched days recomputed: {update.days}, in {seconds:.2f} s,"
                    f" as of {update.as_of}"
                )
            return
        for name in view or ReportView.values:
            refresh = table_rebuild(view=ReportView(name))
            if refresh is None:
                self.stdout.write(f"{name}: skipped, another refresh of it is running")
            else:
                seconds = refresh.duration.total_seconds()
                self.stdout.write(f"{name}: rebuilt in {seconds:.2f} s, as of {refresh.as_of}")
