"""The audit worker's job (``runner/audit_worker.py``), run in this process to see it."""

from __future__ import annotations

import pickle
from datetime import date

from adaptive_agent.config import AppConfig
from adaptive_agent.runner import audit_worker
from adaptive_agent.state.store import StateStore


def test_the_daily_audit_gives_its_memory_back(tmp_path, monkeypatch):
    """The worker process's job (``audit_worker.audit_job``), run here to see the call."""
    cfg = AppConfig()
    cfg = cfg.model_copy(
        update={"reports": cfg.reports.model_copy(update={"audit_dir": str(tmp_path / "a")})}
    )
    calls: list[int] = []
    monkeypatch.setattr(audit_worker, "release_free_memory", lambda: calls.append(1) or True)
    StateStore(tmp_path / "s.db").close()
    day = date(2024, 10, 4)  # a day without data
    result, rows, backtested = audit_worker.audit_job(
        audit_worker.AuditJob(str(tmp_path / "s.db"), cfg, day, None, False, True)
    )
    assert calls == [1] and result.day == day and rows == [] and not backtested


def test_the_evidence_stays_in_the_worker(tmp_path, monkeypatch):
    """Unpickling an ``audit_evidence.Evidence`` would import the backtester and numba into
    the agent (it did: +60 MB in bench/memory_live.py): the result goes back without it."""
    from adaptive_agent.reports import audit
    from adaptive_agent.reports.audit_evidence import Evidence

    ev = Evidence(0, 1, 2, 45, {}, {}, {})
    day = date(2024, 10, 4)
    done = audit.AuditResult(day, {}, {}, {}, ("sharpe",), evidence=ev)
    monkeypatch.setattr(audit_worker, "run_audit", lambda *a, **k: done)
    monkeypatch.setattr(audit_worker, "release_free_memory", lambda: True)
    StateStore(tmp_path / "s.db").close()
    result, _, backtested = audit_worker.audit_job(
        audit_worker.AuditJob(str(tmp_path / "s.db"), AppConfig(), day, None, True, True)
    )
    assert backtested and result.evidence is None and result.flagged == ("sharpe",)
    assert b"audit_evidence" not in pickle.dumps(result)
