"""Reconcile the warehouse with the tap's audit, heal what is missing, reconcile again.

The example workflow's step after the load (cloudflare-stream-daily.yml); standard library only.

    python heal_gaps.py --environment prod --loader target-snowflake --dbt dbt-snowflake

1. `meltano invoke <dbt> test --select audited_rows_are_in_the_warehouse`: the dbt project's
   reconciliation (docs/audit.md). It passes: done.
2. The gaps, read through the same dbt utility (`run-operation audit_gaps_json`), so this is
   the same on every warehouse. A gap this job cannot heal is said so, with why: an account of
   another job (TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS), a stream this job does not load
   (TAP_CLOUDFLARE_STREAM__SELECT_FILTER), days older than Cloudflare keeps, a storage_usage
   reading of a past day.
3. Each account's gaps, merged into ranges of days, are read again with README's heal command:
   `meltano run --full-refresh --no-state-update tap-cloudflare-stream <loader>` with
   TAP_CLOUDFLARE_STREAM_START_DATE, _END_DATE and _ACCOUNT_IDS set: the loader merges the rows,
   and the scheduled runs' state is left as it was.
4. The reconciliation again. The exit status is 1 when a gap of this job remains or could not
   be healed, each named on its own line; 0 otherwise. One pass: it never loops, and it never
   touches Meltano's state.
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import json
import os
import subprocess
import sys
from dataclasses import dataclass

TEST = "audited_rows_are_in_the_warehouse"
OPERATION = "audit_gaps_json"
MARKER = "cloudflare_stream_audit_gaps: "
LISTED = ("videos", "live_inputs", "catalog_listings")  # healed by listing again
READ_TODAY_ONLY = ("storage_usage",)  # one reading a day, taken that day


@dataclass(frozen=True)
class Gap:
    """Consecutive days of one (stream, account) with rows missing (the dbt model audit_gaps)."""

    stream: str
    account_id: str
    first_day: datetime.date
    last_day: datetime.date
    missing_rows: int

    def __str__(self) -> str:
        days = f"{self.first_day}"
        if self.last_day != self.first_day:
            days += f"..{self.last_day}"
        rows = f"{self.missing_rows} row{'' if self.missing_rows == 1 else 's'}"
        return f"stream {self.stream}, account {self.account_id}, {days}: {rows} missing"

    def within(self, heal: list[tuple[str, datetime.date, datetime.date]]) -> bool:
        """Whether one of the heal's ranges read this gap's account and days."""
        return any(
            account == self.account_id and first <= self.last_day and self.first_day <= last
            for account, first, last in heal
        )


class AuditUnreadableError(Exception):
    """The gaps could not be read (a broken audit table, a warehouse error)."""


def main(argv: list[str] | None = None) -> int:
    """Reconcile, heal, reconcile again; 1 when a gap of this job remains."""
    args = parse_args(argv)
    meltano = Meltano(args.environment, args.loader, args.dbt)
    if meltano.check():
        say("The warehouse holds every row the tap emitted.")
        return 0
    try:
        gaps = meltano.gaps()
    except AuditUnreadableError as exc:
        say(f"Cannot heal anything: {exc}")
        return 1
    if not gaps:
        say(f"dbt's check failed but found no gap: see its log above ({args.dbt}).")
        return 1
    job = Job.from_environment(args.today or utc_today(), args.retention_days)
    heal, cannot = job.plan(gaps)
    for gap, why in cannot:
        say(f"Not healed here: {gap}: {why}.")
    failed = [gap for gap, _ in cannot if job.owns(gap)]
    if heal:
        for account, first, last in heal:
            say(f"Healing account {account}, {first}..{last} (README's heal command) ...")
            meltano.heal(account, first, last)
        if meltano.check():
            left: list[Gap] = []
        else:
            try:
                left = meltano.gaps()
            except AuditUnreadableError as exc:
                say(f"After the heal the gaps cannot be read: {exc}")
                return 1
        remaining = [gap for gap in left if job.owns(gap) and gap.within(heal)]
        for gap in remaining:
            say(f"Still missing after the heal: {gap} (the tap's log above says why).")
        if not remaining:
            say("Healed: every gap read again is filled.")
        failed += remaining
    if failed:
        say(
            f"{len(failed)} gap(s) of this job remain. One that cannot be healed stays until "
            "you accept the loss: set the dbt var audit_ignore_days_before (docs/audit.md)."
        )
        return 1
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", help="Meltano environment (meltano --environment)")
    parser.add_argument("--loader", required=True, help="the loader of the scheduled run")
    parser.add_argument("--dbt", required=True, help="the dbt utility of that warehouse")
    parser.add_argument(
        "--retention-days",
        type=int,
        default=90,
        help="days Cloudflare keeps the analytics datasets (default 90)",
    )
    parser.add_argument("--today", type=datetime.date.fromisoformat, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def say(message: str) -> None:
    """One line of this script's own, told apart from Meltano's and dbt's."""
    print(f"[heal_gaps] {message}", flush=True)


def utc_today() -> datetime.date:
    """Today in UTC, the day Cloudflare's retention counts from."""
    return datetime.datetime.now(datetime.timezone.utc).date()


@dataclass(frozen=True)
class Job:
    """What this job loads (its accounts and streams) and what Cloudflare can still give."""

    accounts: frozenset[str]  # empty: every account
    select_filter: tuple[str, ...]
    today: datetime.date
    retention_days: int

    @classmethod
    def from_environment(cls, today: datetime.date, retention_days: int) -> Job:
        """The job's accounts and select_filter, from the variables Meltano reads."""
        accounts = json.loads(os.environ.get("TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS") or "[]")
        select = json.loads(os.environ.get("TAP_CLOUDFLARE_STREAM__SELECT_FILTER") or "[]")
        return cls(frozenset(accounts), tuple(select), today, retention_days)

    def loads(self, stream: str) -> bool:
        """Whether this job's select_filter keeps the stream."""
        wanted = [p for p in self.select_filter if not p.startswith("!")]
        unwanted = [p[1:] for p in self.select_filter if p.startswith("!")]
        if wanted and not any(fnmatch.fnmatchcase(stream, p) for p in wanted):
            return False
        return not any(fnmatch.fnmatchcase(stream, p) for p in unwanted)

    def owns(self, gap: Gap) -> bool:
        """Whether the gap is this job's: one of its accounts, one of its streams."""
        return (not self.accounts or gap.account_id in self.accounts) and self.loads(gap.stream)

    def plan(
        self, gaps: list[Gap]
    ) -> tuple[list[tuple[str, datetime.date, datetime.date]], list[tuple[Gap, str]]]:
        """The ranges to read again per account, and the gaps (or parts) that cannot be healed."""
        wanted: dict[str, list[tuple[datetime.date, datetime.date]]] = {}
        cannot: list[tuple[Gap, str]] = []
        oldest = self.today - datetime.timedelta(days=self.retention_days - 1)
        for gap in gaps:
            if not self.accounts or gap.account_id in self.accounts:
                if not self.loads(gap.stream):
                    cannot.append((gap, "this job's select_filter leaves the stream out"))
                    continue
            else:
                cannot.append((gap, "an account of another job, which heals it"))
                continue
            first, last = gap.first_day, gap.last_day
            if gap.stream in LISTED:
                first = last = self.today  # listing again gives today's catalog
            elif gap.stream in READ_TODAY_ONLY:
                if last != self.today:
                    cannot.append((gap, "Cloudflare gives storage use only for the current day"))
                    continue
                first = self.today
            elif last < oldest:
                cannot.append(
                    (
                        gap,
                        f"older than Cloudflare keeps ({self.retention_days} days, from {oldest})",
                    )
                )
                continue
            elif first < oldest:
                lost = Gap(
                    gap.stream,
                    gap.account_id,
                    first,
                    oldest - datetime.timedelta(days=1),
                    gap.missing_rows,
                )
                cannot.append(
                    (
                        lost,
                        f"older than Cloudflare keeps ({self.retention_days} days); "
                        f"the rest, from {oldest}, is healed",
                    )
                )
                first = oldest
            wanted.setdefault(gap.account_id, []).append((first, last))
        heal = [
            (account, first, last)
            for account, ranges in sorted(wanted.items())
            for first, last in merged(ranges)
        ]
        return heal, cannot


def merged(
    ranges: list[tuple[datetime.date, datetime.date]],
) -> list[tuple[datetime.date, datetime.date]]:
    """Overlapping or adjacent ranges of days as one."""
    out: list[tuple[datetime.date, datetime.date]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + datetime.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


@dataclass(frozen=True)
class Meltano:
    """The Meltano commands this script runs, their output shown as it comes."""

    environment: str | None
    loader: str
    dbt: str

    def _command(self, *args: str) -> list[str]:
        env = [f"--environment={self.environment}"] if self.environment else []
        return ["meltano", *env, *args]

    def check(self) -> bool:
        """dbt's reconciliation test; True when it passes."""
        say(f"Reconciling the warehouse with the tap's audit ({self.dbt} test --select {TEST}) ...")
        done = subprocess.run(
            self._command("invoke", self.dbt, "test", "--select", TEST), check=False
        )
        return done.returncode == 0

    def gaps(self) -> list[Gap]:
        """The open gaps, read through the dbt utility."""
        done = subprocess.run(
            self._command("invoke", self.dbt, "run-operation", OPERATION),
            check=False,
            capture_output=True,
            text=True,
        )
        lines = (done.stdout + done.stderr).splitlines()
        found = [line.split(MARKER, 1)[1] for line in lines if MARKER in line]
        if done.returncode != 0 or not found:
            errors = [line.strip() for line in lines if "rror" in line]
            detail = errors[-1] if errors else f"exit status {done.returncode}"
            raise AuditUnreadableError(
                f"the audit could not be read through {self.dbt} ({detail}). Check that the "
                "loader created the sync_audit table with the tap's columns (docs/audit.md); "
                "until it can be read, gaps can be neither found nor healed."
            )
        try:
            return [
                Gap(
                    str(g["stream"]),
                    str(g["account_id"]),
                    datetime.date.fromisoformat(str(g["first_day"])[:10]),
                    datetime.date.fromisoformat(str(g["last_day"])[:10]),
                    int(g["missing_rows"]),
                )
                for g in json.loads(found[-1])["gaps"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditUnreadableError(
                f"{self.dbt} answered gaps this script cannot read ({exc})"
            ) from None

    def heal(self, account: str, first: datetime.date, last: datetime.date) -> None:
        """README's heal command for one account and range, without the dbt step."""
        env = {
            **os.environ,
            "TAP_CLOUDFLARE_STREAM_START_DATE": first.isoformat(),
            "TAP_CLOUDFLARE_STREAM_END_DATE": last.isoformat(),
            "TAP_CLOUDFLARE_STREAM_ACCOUNT_IDS": json.dumps([account]),
        }
        command = self._command(
            "run", "--full-refresh", "--no-state-update", "tap-cloudflare-stream", self.loader
        )
        done = subprocess.run(command, env=env, check=False)
        if done.returncode != 0:
            say(f"The heal of account {account} exited {done.returncode}; see its log above.")


if __name__ == "__main__":
    sys.exit(main())
