"""The schedule: one table of jobs, one naming style, bound to the app that runs them."""

from __future__ import annotations

import re
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from postpurchase import create_app
from postpurchase.jobs import JOB_OPTIONS, JOBS, add_jobs

#: ``<feature>.<what>``: lower-case words joined by underscores, one dot.
JOB_ID = re.compile(r"^[a-z]+\.[a-z]+(_[a-z]+)*$")


def test_job_ids_are_feature_dot_name_and_unique() -> None:
    assert [spec.id for spec in JOBS if not JOB_ID.match(spec.id)] == []
    assert len({spec.id for spec in JOBS}) == len(JOBS)


def test_every_job_function_exists_in_the_feature_its_id_names() -> None:
    for spec in JOBS:
        assert callable(spec.resolve()), spec.id
        package = "postpurchase." + spec.id.split(".")[0]
        module = spec.function.split(":")[0]
        assert module == package or module.startswith(package + "."), spec.id


def test_creating_an_app_registers_no_job_outside_the_table(app) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(spec.id for spec in JOBS)


def test_jobs_keep_their_interval_and_never_overlap(app) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    poll = scheduler.get_job("tracking.poll")
    assert poll.trigger.interval.total_seconds() == 60
    assert poll.coalesce is True and poll.max_instances == 1
    assert JOB_OPTIONS["replace_existing"] is True


def test_a_late_run_still_runs(app) -> None:
    # A new leader resumes its scheduler with every run overdue; APScheduler drops runs later than
    # misfire_grace_time (1 s by default), so each change of leader skipped a whole interval.
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    assert {job.id: job.misfire_grace_time for job in scheduler.get_jobs()} == {
        spec.id: None for spec in JOBS
    }


def test_each_app_schedules_its_jobs_with_itself(app_config: dict[str, Any], tmp_path) -> None:
    first = create_app(app_config)
    second = create_app(
        {
            **app_config,
            "INSTANCE_PATH": str(tmp_path / "other"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
        }
    )
    schedulers = {}
    for each in (first, second):
        schedulers[each] = BackgroundScheduler(timezone="UTC")
        add_jobs(each, schedulers[each])
    for each, scheduler in schedulers.items():
        assert {job.args[0] for job in scheduler.get_jobs()} == {each}
