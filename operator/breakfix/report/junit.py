"""JUnit XML in the shape CI tools import: one <testsuite> per group, one <testcase> per check.

Failures carry the check's message both as the `message` attribute (shown in summaries) and as
text (shown in details); time is in seconds with a dot, counts are consistent with the cases.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None
    skipped: str | None = None
    output: str = ""


@dataclass
class Suite:
    name: str
    cases: list[Case] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if c.failure is not None)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.skipped is not None)


def to_xml(suites: list[Suite]) -> str:
    root = ET.Element(
        "testsuites",
        {
            "name": "breakfix",
            "tests": str(sum(len(s.cases) for s in suites)),
            "failures": str(sum(s.failures for s in suites)),
            "errors": "0",
            "skipped": str(sum(s.skipped for s in suites)),
            "time": f"{sum(c.seconds for s in suites for c in s.cases):.3f}",
        },
    )
    for suite in suites:
        node = ET.SubElement(
            root,
            "testsuite",
            {
                "name": suite.name,
                "tests": str(len(suite.cases)),
                "failures": str(suite.failures),
                "errors": "0",
                "skipped": str(suite.skipped),
                "time": f"{sum(c.seconds for c in suite.cases):.3f}",
            },
        )
        for case in suite.cases:
            element = ET.SubElement(
                node,
                "testcase",
                {
                    "name": case.name,
                    "classname": case.classname,
                    "time": f"{case.seconds:.3f}",
                },
            )
            if case.failure is not None:
                failure = ET.SubElement(
                    element, "failure", {"message": case.failure[:500], "type": "CheckFailed"}
                )
                failure.text = case.failure
            elif case.skipped is not None:
                ET.SubElement(element, "skipped", {"message": case.skipped})
            if case.output:
                ET.SubElement(element, "system-out").text = case.output
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(path: Path, suites: list[Suite]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_xml(suites))
