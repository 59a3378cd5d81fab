"""`manifest.json`: what a stage folder of a bundle holds, written by compile, read by apply.

One type for both sides, so that what `egress compile` writes and what `egress apply`
checks cannot drift apart. The sha256 of every file of the folder is the integrity
check of the bundle; the other fields say what the folder is (policy, stage, source
revision, compiler) and are recorded by the firewall side in its state and audit log.
`expiries` lists every expiry instant of the grants in force in the stage (what closes
when), so that the firewall can say what closes next and warn about a bundle that still
holds grants past their expiry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

MANIFEST = "manifest.json"

_TEXT_FIELDS = ("policy", "revision", "stage", "stage_title", "compiler_version", "at")


class ManifestError(ValueError):
    """The document is not a bundle manifest (the message says why)."""


@dataclass(frozen=True)
class Manifest:
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256 (hex)
    policy: str | None = None
    revision: str | None = None
    stage: str | None = None
    stage_title: str | None = None
    language_version: int | None = None
    compiler_version: str | None = None
    at: str | None = None
    # {"at": RFC 3339 UTC instant, "grant": id, "via": "direct"|"proxy", "from": [...], "to": [...]},
    # sorted by instant then grant
    expiries: list[dict[str, Any]] = field(default_factory=list)
    # {"at": RFC 3339 UTC instant, "file": a listed file}: the Squid include from that instant on
    squid_schedule: list[dict[str, str]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """The file's bytes: sorted keys, two-space indent, a final newline (deterministic)."""
        doc = asdict(self)
        doc["files"] = dict(sorted(self.files.items()))
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse and check the shape; ManifestError says what is wrong."""
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise ManifestError(f"not JSON: {err}") from None
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ManifestError("not a bundle manifest (no `files` map of name -> sha256)")
        for key in _TEXT_FIELDS:
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise ManifestError(f"not a bundle manifest (`{key}` is not a string)")
        expiries = doc.get("expiries", [])
        if not isinstance(expiries, list) or not all(_is_expiry(e) for e in expiries):
            raise ManifestError("not a bundle manifest (`expiries` is not a list of {at, grant, via, from, to})")
        schedule = doc.get("squid_schedule", [])
        if not isinstance(schedule, list) or not all(
                isinstance(e, dict) and isinstance(e.get("at"), str) and e.get("file") in files for e in schedule):
            raise ManifestError("not a bundle manifest (`squid_schedule` is not a list of {at, file} of listed files)")
        version = doc.get("language_version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            raise ManifestError("not a bundle manifest (`language_version` is not an integer)")
        return cls(files=dict(files), language_version=version, expiries=expiries, squid_schedule=schedule,
                   **{k: doc.get(k) for k in _TEXT_FIELDS})


def _is_expiry(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("at"), str) and isinstance(entry.get("grant"), str)
            and isinstance(entry.get("via"), str)
            and all(isinstance(entry.get(k), list) and all(isinstance(x, str) for x in entry[k]) for k in ("from", "to")))
