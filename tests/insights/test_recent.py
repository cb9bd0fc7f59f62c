"""Reports kept per web process: reused while young, computed again when old, bounded in number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postpurchase.insights.recent import RecentReports

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


class Computing:
    """Stands in for ``queries.report``: counts its calls and returns a distinct value each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return f"report {self.calls}"


def test_a_report_is_reused_until_it_is_as_old_as_the_setting() -> None:
    recent, compute = RecentReports(60), Computing()
    first = recent.get("acme", NOW, compute)
    assert recent.get("acme", NOW + timedelta(seconds=59.9), compute) is first
    later = recent.get("acme", NOW + timedelta(seconds=60), compute)
    assert later.report == "report 2" and later.at == NOW + timedelta(seconds=60)


def test_a_clock_set_back_does_not_make_a_report_young() -> None:
    recent, compute = RecentReports(60), Computing()
    recent.get("acme", NOW, compute)
    assert recent.get("acme", NOW - timedelta(seconds=1), compute).report == "report 2"


def test_keys_are_kept_apart() -> None:
    recent, compute = RecentReports(60), Computing()
    assert recent.get(("acme", 1), NOW, compute).report == "report 1"
    assert recent.get(("other", 1), NOW, compute).report == "report 2"
    assert recent.get(("acme", 1), NOW, compute).report == "report 1"


def test_only_the_last_reports_asked_for_are_kept() -> None:
    recent, compute = RecentReports(60, size=2), Computing()
    recent.get("a", NOW, compute)
    recent.get("b", NOW, compute)
    recent.get("a", NOW, compute)  # a is now the latest asked for; b is dropped next
    recent.get("c", NOW, compute)
    assert recent.get("a", NOW, compute).report == "report 1"
    assert recent.get("b", NOW, compute).report == "report 4"


def test_0_seconds_computes_every_time() -> None:
    recent, compute = RecentReports(0), Computing()
    recent.get("acme", NOW, compute)
    assert recent.get("acme", NOW, compute).report == "report 2"


def test_reports_past_their_time_are_let_go_when_another_is_kept() -> None:
    recent, compute = RecentReports(60), Computing()
    recent.get("a", NOW, compute)
    recent.get("b", NOW + timedelta(seconds=30), compute)
    recent.get("c", NOW + timedelta(seconds=61), compute)
    assert len(recent) == 2  # a is gone; b (31 s old) and c stay
