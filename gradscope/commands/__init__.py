"""The commands as library functions: each one takes settings, runs, and returns an Outcome; none of them prints.

Importing this package imports nothing else (the CLI imports a command module only when the command runs), so
`gradscope --help` stays free of torch and pandas.
"""
