"""Diagnostics out: one formatter per `--format`, each a function from diagnostics to text.

- `text`: `path:line:col: severity CODE message`, one line each (ruff's style);
- `json`: the contract list of `{path, line, column, severity, code, message}`;
- `github`: workflow commands that annotate the pull request's lines;
- `sarif`: SARIF 2.1.0, for code-scanning dashboards.
"""

from __future__ import annotations

import json

from egress import __version__
from egress.diagnostics import CATALOGUE, Diagnostic


def text(diagnostics: list[Diagnostic]) -> str:
    return "".join(f"{d}\n" for d in diagnostics)


def as_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diagnostics], indent=2) + "\n"


def _github_escape(value: str, property_: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(diagnostics: list[Diagnostic]) -> str:
    return "".join(
        f"::{d.severity} file={_github_escape(d.path, True)},line={d.line},col={d.column},"
        f"title={d.code}::{_github_escape(d.message)}\n"
        for d in diagnostics
    )


def sarif(diagnostics: list[Diagnostic]) -> str:
    codes = sorted(CATALOGUE)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "egress",
                        "version": __version__,
                        "rules": [
                            {
                                "id": code,
                                "shortDescription": {"text": CATALOGUE[code][0]},
                                "help": {"text": CATALOGUE[code][1]},
                                "defaultConfiguration": {"level": "error" if code[0] == "E" else "warning"},
                            }
                            for code in codes
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": d.code,
                        "ruleIndex": codes.index(d.code),
                        "level": d.severity,
                        "message": {"text": d.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": d.path},
                                    "region": {"startLine": d.line, "startColumn": d.column},
                                }
                            }
                        ],
                    }
                    for d in diagnostics
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


FORMATS = {"text": text, "json": as_json, "github": github, "sarif": sarif}
