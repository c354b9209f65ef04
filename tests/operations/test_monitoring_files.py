"""The alert rules and the Grafana dashboard read metrics the platform really exports: a renamed
metric would otherwise leave an alert that can never fire and a panel that stays empty."""

import json
import re

import pytest
import yaml
from django.test import Client

from tests.servers import REPOSITORY

DEPLOY = REPOSITORY / "deploy"
METRIC = re.compile(r"\b((?:booking|django)_[a-z_]+)\b")
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def rule_expressions() -> list[str]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "platform.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def exported_names() -> set[str]:
    body = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    return set(re.findall(r"^# TYPE (\S+) ", body, re.MULTILINE))


def referenced(expressions: list[str]) -> set[str]:
    names = set()
    for expression in expressions:
        for name in METRIC.findall(expression):
            for part in HISTOGRAM_PARTS:
                name = name.removesuffix(part)
            names.add(name)
    return names


@pytest.mark.django_db
@pytest.mark.parametrize("source", [rule_expressions, dashboard_expressions])
def test_every_metric_read_is_exported(source):
    exported = exported_names()
    missing = sorted(name for name in referenced(source()) if name not in exported)
    assert missing == []


def test_the_dashboard_is_grafana_json_with_a_chosen_datasource():
    dashboard = json.loads((DEPLOY / "grafana" / "platform.json").read_text())
    assert dashboard["uid"] == "booking-platform"
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert panels and all(panel["targets"] for panel in panels)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
