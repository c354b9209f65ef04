"""What every endpoint of the REST API shares: errors, pagination, schema. Apps own their
endpoints in `<app>/api/`; config/api/urls.py puts them under /api/v1/."""
