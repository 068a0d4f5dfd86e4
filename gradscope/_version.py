"""The version of gradscope, in its own module so that the report can name it without importing the package root."""

__version__ = "0.1.0"
