"""`tools/check_system.py`: what `make test` checks first, and the line it says to run."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools import check_system

SCRIPT = ROOT / "tools" / "check_system.py"
FAKE = check_system.Library("A fake library", "libplacerisk-fake0", ("libplacerisk-fake.so.0",))


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CI"} | env
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=environ, check=False)


def apt_line(message: str) -> list[str]:
    """The packages of the message's ``sudo apt-get install -y`` line."""
    (line,) = [x for x in message.splitlines() if "apt-get install" in x]
    prefix = "sudo apt-get install -y "
    assert prefix in line, line
    return line.split(prefix, 1)[1].split()


def test_a_missing_library_is_named_with_its_package() -> None:
    status, message = check_system.check(browser=False,
                                         libraries=(*check_system.LIBRARIES, FAKE))
    assert status == 1
    assert "A fake library: libplacerisk-fake.so.0 not found" in message
    assert "libplacerisk-fake0" in apt_line(message)
    assert "On other systems" in message


def test_only_what_is_missing_is_in_the_line() -> None:
    status, message = check_system.check(browser=False, libraries=(FAKE, FAKE))
    assert status == 1 and apt_line(message) == ["libplacerisk-fake0"]


def test_no_chromium_under_ci_stops_with_the_apt_line() -> None:
    result = run("--browser", "--chromium", "/nonexistent/chromium", CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "/nonexistent/chromium not found" in result.stderr
    assert "chromium" in apt_line(result.stderr)


def test_no_chromium_elsewhere_is_a_note_and_the_tests_skip() -> None:
    status, message = check_system.check(browser=True, chromium="/nonexistent/chromium",
                                         ci=False, libraries=())
    assert status == 0
    assert "/nonexistent/chromium: the browser tests will be skipped" in message
    assert apt_line(message) == ["chromium"]


def test_chromium_is_looked_for_only_with_browser() -> None:
    assert check_system.check(browser=False, chromium="/nonexistent", ci=True,
                              libraries=()) == (0, "")


def test_no_font_is_found(tmp_path: Path) -> None:
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n', encoding="utf-8")
    result = run(FONTCONFIG_FILE=str(empty))
    assert result.returncode == 1, result.stdout
    assert "a font: fontconfig finds none" in result.stderr
    assert apt_line(result.stderr)[-1] == "fonts-dejavu-core"


def test_debian_packages_list_everything() -> None:
    result = run("--debian-packages")
    assert result.returncode == 0
    assert result.stdout.split() == ["libpango-1.0-0", "libpangoft2-1.0-0",
                                     "libharfbuzz-subset0", "libfontconfig1",
                                     "fonts-dejavu-core", "chromium"]


def test_make_test_checks_the_system_first() -> None:
    result = subprocess.run(["make", "-n", "-W", "pyproject.toml", "test"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    check = next(i for i, x in enumerate(lines) if "tools/check_system.py --browser" in x)
    install = next(i for i, x in enumerate(lines) if "pip install" in x)
    pytest_ = next(i for i, x in enumerate(lines) if "-m pytest" in x)
    assert check < install < pytest_


def test_only_weasyprint_s_harfbuzz_notice_is_ignored() -> None:
    # pyproject.toml's filterwarnings: "error", but this one notice of weasyprint's
    notice = ("HarfBuzz-Subset will be required by future versions of WeasyPrint. Please "
              "install this library with your package manager.")
    warnings.warn_explicit(notice, DeprecationWarning, "ffi.py", 1, module="weasyprint.text.ffi")
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit(notice, DeprecationWarning, "x.py", 1, module="layers.x")
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("something else", DeprecationWarning, "ffi.py", 1,
                               module="weasyprint.text.ffi")
