"""The versioned report `gradscope.report/1`: build.py assembles it, files.py and atomic.py write it."""
