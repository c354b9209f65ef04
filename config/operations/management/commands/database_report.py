"""`manage.py database_report`: slowest statements, connections, bloat, unused indexes."""

from django.core.management.base import BaseCommand

from config.operations.insight import database_report

WIDEST = 80  # characters of a cell shown (statements are long)


class Command(BaseCommand):
    help = "What the database is doing (the admin's Database page, as text)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=15, help="Rows per section (15).")

    def handle(self, *args, limit: int, **options) -> None:
        for table in database_report(max(limit, 1)):
            self.stdout.write(self.style.MIGRATE_HEADING(table.title))
            if table.note:
                self.stdout.write(f"  {table.note}")
            rows = [table.columns]
            rows += [
                tuple("" if value is None else str(value) for value in row) for row in table.rows
            ]
            widths = [min(max(len(row[i]) for row in rows), WIDEST) for i in range(len(rows[0]))]
            for row in rows:
                cells = (
                    value[:WIDEST].ljust(width) for value, width in zip(row, widths, strict=True)
                )
                self.stdout.write("  " + "  ".join(cells).rstrip())
            self.stdout.write("")
