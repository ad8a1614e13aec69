"""The one compiled part: the COPY reader (pgarchiver_tui/pipeline/_copyreader.c). Optional: without a C
compiler the package installs all the same and reads COPY rows in Python, at more CPU per row."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pgarchiver_tui.pipeline._copyreader", ["pgarchiver_tui/pipeline/_copyreader.c"],
                             optional=True)])
