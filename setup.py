"""Packaging hook: the wheel carries the top-level ``skills/`` folder as ``guiagent/skill_library``,
so ``guiagent skill list`` works from a plain ``pip install`` (pyproject.toml has the rest)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SKILL_SUFFIXES = {".json", ".yaml", ".yml", ".png", ".md"}


class BuildPyWithSkills(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "skills"
        target = Path(self.build_lib) / "guiagent" / "skill_library"
        for path in sorted(source.glob("*")) if source.is_dir() else []:
            if path.is_file() and path.suffix.lower() in SKILL_SUFFIXES:
                self.mkpath(str(target))
                self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildPyWithSkills})
