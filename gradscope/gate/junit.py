"""JUnit XML for CI systems: one <testcase> per check; a failed check carries its message and evidence lines.

The shape is the common denominator that GitHub test-report actions, GitLab, Jenkins and Azure read:
<testsuites><testsuite name tests failures errors skipped><testcase classname name>[<failure message>details
</failure> | <skipped message/>]</testcase>. XML 1.0 cannot hold most control characters (a user's traceback may
carry ANSI escapes), so they are dropped rather than making the file unparsable.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gradscope.gate.checks import Check

# Characters XML 1.0 does not allow anywhere, not even escaped.
_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_junit_xml(suite: str, checks: list[Check]) -> str:
    """The checks as a JUnit XML document (a string; write it with gradscope.report.atomic.write_atomic)."""
    failures = sum(not c.passed for c in checks)
    skipped = sum(c.skipped for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "gradscope", **counts})
    suite_el = ET.SubElement(root, "testsuite", {"name": _clean(suite), **counts})
    for check in checks:
        case = ET.SubElement(suite_el, "testcase", {"classname": "gradscope." + _clean(check.name),
                                                     "name": _clean(check.name)})
        if check.skipped:
            ET.SubElement(case, "skipped", {"message": _clean(check.message)})
        elif not check.passed:
            failure = ET.SubElement(case, "failure", {"message": _clean(check.message), "type": "gradscope.check"})
            failure.text = _clean("\n".join((check.message, *check.details)))
        else:
            ET.SubElement(case, "system-out").text = _clean("\n".join((check.message, *check.details)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean(text: str) -> str:
    return _INVALID.sub("", text)
