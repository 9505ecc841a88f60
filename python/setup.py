"""Installs the shmframe Python package (pure Python). When the repository's C library was built
(`npm ci` or `npm run build:native` in the repository root), it is copied into the package as
shmframe/_lib/shmframe_sys.so, so the installed package finds it without SHMFRAME_SYS_LIB. Nothing
is compiled and nothing is downloaded:

    pip install --no-index --no-build-isolation ./python
"""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# The repository's build, or another one named by SHMFRAME_SYS_LIB (building from a copy).
LIB = Path(
    os.environ.get("SHMFRAME_SYS_LIB")
    or Path(__file__).resolve().parent.parent / "native" / "build" / "Release" / "shmframe_sys.so"
)


class BuildPy(build_py):
    def run(self):
        super().run()
        if LIB.exists():
            dest = Path(self.build_lib) / "shmframe" / "_lib"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(LIB, dest / "shmframe_sys.so")


setup(cmdclass={"build_py": BuildPy})
