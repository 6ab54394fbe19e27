"""Incidents: the findings that started in the same run on the same board, as one (or in
the run after it: in noise, a change can be dated one run late in one of its series).

An aged core moves a dozen series of several tests in one night (delay percentiles, drift,
SynOps/s, power); a lab wants one line for it, with what else changed between the last run
before it and the first run after: versions, the suite's and the harness's commits, the
profile, the emulated truth, the host, the board. When nothing else changed, the board is
the suspect. An incident is open while any of its findings is; accepted when a lab accepted
it; recovered when every finding recovered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hil.history.changes import ALPHA, MIN_EFFECT
from hil.history.regressions import ACCEPTED, OPEN, RECOVERED, Finding, find, what_changed
from hil.history.series import History, RunInfo
from hil.history.store import Acceptance

UNCHANGED = "setup unchanged: suspect the board"


@dataclass
class Incident:
    id: str
    run: RunInfo  # the first run after the change
    previous: RunInfo | None
    serial: str
    profile: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def state(self) -> str:
        states = {f.state for f in self.findings}
        if OPEN in states:
            return OPEN
        return ACCEPTED if states == {ACCEPTED} else RECOVERED

    @property
    def fails_gate(self) -> bool:
        return any(f.fails_gate for f in self.findings)

    @property
    def direction(self) -> str:
        directions = {f.change.direction for f in self.findings}
        return "worse" if "worse" in directions else "changed"

    @property
    def tests(self) -> list[str]:
        return sorted({f.key.test for f in self.findings})

    @property
    def closed(self) -> RunInfo | None:
        """The run that recovered its last finding, once all recovered."""
        if self.state != RECOVERED:
            return None
        ends = [f.closed for f in self.findings if f.closed is not None]
        return max(ends, key=lambda r: r.index) if ends else None

    @property
    def acceptance(self) -> Acceptance | None:
        return next((f.acceptance for f in self.findings if f.acceptance), None)

    def what_changed(self) -> str:
        return what_changed(self.previous, self.run) or UNCHANGED

    def summary(self) -> str:
        """One line: the incident, its size, its state with dates, what else changed."""
        first = max(self.findings, key=lambda f: abs(f.change.effect) if f.change.relative else 0)
        c = first.change
        state = self.state
        if state == RECOVERED and self.closed:
            state += f" {self.closed.started:%Y-%m-%d}"
        if state == ACCEPTED and self.acceptance:
            a = self.acceptance
            state += f" by {a.who} {a.at:%Y-%m-%d}: {a.reason}"
        return (
            f"incident {self.id} on {self.serial or '-'} since {self.run.started:%Y-%m-%d %H:%M} "
            f"(commit {(self.run.git_commit or '-')[:10]}): {self.direction}, "
            f"{len(self.findings)} series of {len(self.tests)} test(s), {state}; e.g. "
            f"{first.key.name} {c.before:.4g} → {c.after:.4g} {first.unit} "
            f"({c.effect_text(first.unit)}, p={c.p:.2g}); {self.what_changed()}"
        ).replace("  ", " ")

    def as_json(self) -> dict:
        a = self.acceptance
        return {
            "id": self.id,
            "state": self.state,
            "direction": self.direction,
            "serial": self.serial,
            "profile": self.profile,
            "started": self.run.started.isoformat(),
            "run_id": self.run.run_id,
            "commit": self.run.git_commit,
            "recovered": self.closed.started.isoformat() if self.closed else None,
            "accepted": None
            if a is None
            else {"who": a.who, "at": a.at.isoformat(), "reason": a.reason},
            "series": [f.key.name for f in self.findings],
            "tests": self.tests,
            "what_else_changed": self.what_changed(),
            "fails_gate": self.fails_gate,
        }


def _together(incident: Incident, finding: Finding) -> bool:
    """Same board and profile, and the same first run, or the next one of the series (noise
    can date a change one run late in one series and not in another)."""
    if (incident.serial, incident.profile) != (finding.key.serial, finding.key.profile):
        return False
    return finding.run.run_id == incident.run.run_id or (
        finding.previous is not None and finding.previous.run_id == incident.run.run_id
    )


def incident_id(run_id: str, serial: str, profile: str) -> str:
    return hashlib.sha256(f"{run_id}|{serial}|{profile}".encode()).hexdigest()[:8]


@dataclass
class Assessment:
    """Every finding and incident of a history: what pytest, ``history regressions`` and
    the report all count."""

    findings: list[Finding]
    incidents: list[Incident]

    @property
    def open(self) -> list[Incident]:
        return [i for i in self.incidents if i.state == OPEN]

    @property
    def failing(self) -> list[Incident]:
        return [i for i in self.incidents if i.fails_gate]

    def count_text(self, incidents: list[Incident] | None = None) -> str:
        chosen = self.failing if incidents is None else incidents
        series = sum(len([f for f in i.findings if f.state == OPEN]) for i in chosen)
        return f"{len(chosen)} open incident(s), {series} open series"


def assess(
    history: History,
    acceptances: list[Acceptance] = (),
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> Assessment:
    findings = find(history, acceptances, alpha, min_effect)
    incidents: list[Incident] = []
    for finding in findings:  # oldest first: an incident starts at its earliest finding
        if not finding.opens_incident:
            continue
        incident = next((i for i in incidents if _together(i, finding)), None)
        if incident is None:
            key = finding.key
            incident = Incident(
                incident_id(finding.run.run_id, key.serial, key.profile),
                finding.run,
                finding.previous,
                key.serial,
                key.profile,
            )
            incidents.append(incident)
        incident.findings.append(finding)
        finding.incident = incident.id
    incidents.sort(key=lambda i: (i.run.started, i.serial, i.id))
    return Assessment(findings, incidents)
