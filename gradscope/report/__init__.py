"""The versioned report `gradscope.report/1`: build.py assembles it, files.py and atomic.py write it.

The names below are re-exported because `gradscope.report` was a module before it became this package; new code
imports from gradscope.report.build.
"""

from gradscope.report.build import SCHEMA, build_report, report_settings, run_to_dict, tidy_csv, to_json

__all__ = ["SCHEMA", "build_report", "report_settings", "run_to_dict", "tidy_csv", "to_json"]
