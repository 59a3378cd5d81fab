"""The typed record of what egress loaded on this firewall (`STATE_DIR/state.json`) and
of each snapshot (`snapshots/<id>/meta.json`).

Frozen dataclasses, changed with `dataclasses.replace`, written and read as JSON that is
checked against `egress/schemas/firewall-state.schema.json` on every read: a state file
is root's memory of what to restore, and a forged or damaged one must be refused, not
half-trusted. The JSON layout is the one earlier versions wrote (version 1).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from egress.manifest import Manifest

STATE_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "firewall-state.schema.json"


class StateError(ValueError):
    """A state or snapshot document that does not match the schema (the message says where)."""


@dataclass(frozen=True)
class Record:
    """A ruleset loaded by egress: the bundle's manifest summary, who loaded it and when,
    and a fingerprint of the table as loaded."""

    policy: str | None = None
    stage: str | None = None
    stage_title: str | None = None
    revision: str | None = None
    compiler_version: str | None = None
    at: str | None = None
    sha256: str | None = None
    files: dict[str, str] | None = None
    bundle: str | None = None
    applied_at: str | None = None
    applied_by: str | None = None
    squid_include: str | None = None
    squid_conf: str | None = None
    dnsmasq_include: str | None = None
    dnsmasq_conf: str | None = None
    signer: str | None = None  # who signed the manifest (apply --allowed-signers)
    signed_at: str | None = None  # when, from inside the signature (freshness.py)
    fingerprint: str | None = None
    deny_all: bool = False  # the fail-closed table that stands in for "no table" (snapshots.py)
    expiries: list[dict[str, Any]] | None = None  # the manifest's expiry instants (expiry.py)
    squid_schedule: list[dict[str, Any]] | None = None  # {at, sha256}: later proxy includes (proxytimer.py)
    emptied_sets: list[str] | None = None  # the sets egress.nft empties on load (scope.emptied_sets); None: unknown

    @classmethod
    def of_bundle(cls, manifest: Manifest, sha256: str | None, bundle: str) -> Record:
        return cls(policy=manifest.policy, stage=manifest.stage, stage_title=manifest.stage_title,
                   revision=manifest.revision, compiler_version=manifest.compiler_version, at=manifest.at,
                   sha256=sha256, files=dict(manifest.files), bundle=bundle,
                   expiries=list(manifest.expiries) or None)

    def summary(self) -> dict[str, Any]:
        """What the audit log and status repeat about a record."""
        return {"policy": self.policy, "stage": self.stage, "stage_title": self.stage_title, "sha256": self.sha256}

    def same_revision(self, other: Record | None) -> bool:
        return bool(other and self.revision and self.policy == other.policy and self.revision == other.revision)

    def emptied_by_either(self, other: Record | None) -> frozenset[str] | None:
        """The sets that one of the two rulesets empties on load: under the same plan of
        the dynamic sets (egress/targets/dynamic.py), a dynamic set that neither empties is
        at its widest in both, so it holds the same host names in both. None when nothing
        can be said: another policy, revision, compiler or `at` (another plan), or a record
        that does not say what its file empties."""
        if not (other and self.same_revision(other) and self.compiler_version == other.compiler_version
                and self.at == other.at and self.emptied_sets is not None and other.emptied_sets is not None):
            return None
        return frozenset(self.emptied_sets) | frozenset(other.emptied_sets)


@dataclass(frozen=True)
class Pending:
    """An apply waiting for `egress confirm` before its deadline."""

    token: str
    snapshot: str  # what a rollback restores
    undo_before: str | None  # the undo snapshot to keep if this apply is rolled back
    record: Record
    previous: Record | None
    since: str
    by: str
    timeout: float
    deadline: str
    deadline_boottime: float
    watchdog_pid: int | None = None
    timer: str | None = None  # the systemd deadline timer (timer.py), where systemd runs


@dataclass(frozen=True)
class Last:
    """How the last pending apply ended."""

    token: str | None
    outcome: str  # "confirmed" | "rolled back"
    at: str
    by: str | None = None
    reason: str | None = None
    automatic: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "token"}


@dataclass(frozen=True)
class NewestSigned:
    """The newest signing time of a bundle applied here with --allowed-signers, and
    which bundle that was (freshness.py): an older signature is a replay."""

    signed_at: str
    policy: str | None
    stage: str | None
    sha256: str | None
    signer: str | None


@dataclass(frozen=True)
class State:
    netns: str
    boot_id: str
    current: Record | None = None
    pending: Pending | None = None
    undo: str | None = None
    last: Last | None = None
    newest_signed: NewestSigned | None = None
    version: int = STATE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "netns": self.netns, "boot_id": self.boot_id,
            "current": asdict(self.current) if self.current else None,
            "pending": asdict(self.pending) if self.pending else None,
            "undo": self.undo,
            "last": self.last.to_json() if self.last else None,
            "newest_signed": asdict(self.newest_signed) if self.newest_signed else None,
        }

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, doc: Any) -> State:
        _check(doc, None)
        pending = doc["pending"]
        if pending is not None:
            pending = Pending(**dict(pending, record=_record(pending["record"]), previous=_record(pending["previous"])))
        return cls(version=doc["version"], netns=doc["netns"], boot_id=doc["boot_id"],
                   current=_record(doc["current"]), pending=pending, undo=doc["undo"],
                   last=Last(**doc["last"]) if doc["last"] else None,
                   newest_signed=NewestSigned(**doc["newest_signed"]) if doc.get("newest_signed") else None)


@dataclass(frozen=True)
class SquidSaved:
    include: str
    conf: str | None
    existed: bool


@dataclass(frozen=True)
class DnsmasqSaved:
    include: str
    conf: str | None
    restart: str  # the command that restarts dnsmasq (apply --dnsmasq-restart)
    existed: bool


@dataclass(frozen=True)
class Snapshot:
    """What was in force before an apply (the files beside meta.json hold the content)."""

    id: str
    taken_at: str
    table: bool  # False: there was no table inet egress
    current: Record | None  # the record of the table in force, if egress loaded it
    squid: SquidSaved | None = None
    deny_all: bool = False  # deny-all.nft: what a rollback loads instead of "no table"
    dnsmasq: DnsmasqSaved | None = None

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, doc: Any) -> Snapshot:
        _check(doc, "snapshot")
        return cls(id=doc["id"], taken_at=doc["taken_at"], table=doc["table"], current=_record(doc["current"]),
                   squid=SquidSaved(**doc["squid"]) if doc["squid"] else None, deny_all=doc.get("deny_all", False),
                   dnsmasq=DnsmasqSaved(**doc["dnsmasq"]) if doc.get("dnsmasq") else None)

    @property
    def restores(self) -> Record | None:
        """The record of what a rollback to this snapshot puts in force."""
        return self.current if self.table else None


def _record(doc: dict | None) -> Record | None:
    if doc is None:
        return None
    known = {f.name for f in fields(Record)}
    return Record(**{k: v for k, v in doc.items() if k in known})


def _check(doc: Any, definition: str | None) -> None:
    errors = sorted(_validator(definition).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
        raise StateError(f"{where}: {errors[0].message}")


@functools.cache
def _validator(definition: str | None):
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    if definition:
        schema = {**schema, "$ref": f"#/$defs/{definition}"}
        for key in ("type", "required", "properties", "additionalProperties"):
            schema.pop(key, None)
    return Draft202012Validator(schema)

