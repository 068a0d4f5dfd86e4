"""JUnit XML and GitHub Actions annotations: what CI systems parse."""

import xml.etree.ElementTree as ET

from gradscope.gate.checks import Check
from gradscope.gate.github import command, escape_data, escape_property, github_annotations
from gradscope.gate.junit import to_junit_xml

CHECKS = [Check("training", True, "30/30 steps"), Check("gradients", False, "2 of 6 parameters", ("no gradient: a, b",)),
          Check("updates", True, "muted by --ignore", skipped=True), Check("findings", False, "1 finding(s)",
                                                                             ("[error] unused: x", "    hint: y"))]


def test_junit_parses_and_counts_tests_failures_and_skips():
    root = ET.fromstring(to_junit_xml("gradscope check m.py", CHECKS))
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite.get("name") == "gradscope check m.py"
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("skipped"), element.get("errors")) == \
            ("4", "2", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["training", "gradients", "updates", "findings"]
    failure = cases[1].find("failure")
    assert failure.get("message") == "2 of 6 parameters" and failure.text == "2 of 6 parameters\nno gradient: a, b"
    assert cases[2].find("skipped") is not None and cases[0].find("failure") is None
    assert cases[3].find("failure").text.endswith("    hint: y")


def test_junit_escapes_markup_and_drops_characters_xml_cannot_hold():
    nasty = Check("training", False, 'raised <ValueError> & "quotes"', ("\x1b[31mred\x1b[0m\x00 tail",))
    failure = ET.fromstring(to_junit_xml("s & <t>", [nasty])).find("testsuite/testcase/failure")
    assert failure.get("message") == 'raised <ValueError> & "quotes"'
    assert failure.text.endswith("[31mred[0m tail")


def test_github_escaping_follows_the_toolkit_rules():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape_data("a:b,c") == "a:b,c"  # ':' and ',' are escaped only in properties
    assert command("error", "x", title="t: 1, 2", file=None) == "::error title=t%3A 1%2C 2::x"
    assert command("notice", "plain") == "::notice::plain"


def test_github_annotations_for_failed_checks_and_findings_at_their_severity():
    findings = [{"rule": "unused", "severity": "error", "message": "skip.weight never got a gradient", "layer": "skip",
                 "hint": "use it"},
                {"rule": "loss_not_decreasing", "severity": "warning", "message": "fell 0.5%", "layer": None},
                {"rule": "dead_units", "severity": "info", "message": "m", "layer": "relu"}]
    lines = github_annotations(CHECKS, findings, file="models/m.py")
    assert lines == [
        "::error file=models/m.py,title=gradscope check%3A gradients::2 of 6 parameters%0Ano gradient: a, b",
        "::error file=models/m.py,title=gradscope check%3A findings::1 finding(s)",
        "::error file=models/m.py,title=gradscope unused (layer skip)::skip.weight never got a gradient%0Ahint: use it",
        "::warning file=models/m.py,title=gradscope loss_not_decreasing::fell 0.5%25",
        "::notice file=models/m.py,title=gradscope dead_units (layer relu)::m",
    ]
    assert all("\n" not in line for line in lines)
