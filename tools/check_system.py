#!/usr/bin/env python3
"""Check the system libraries placerisk needs, and say exactly what to install.

Printable pages become PDFs with weasyprint, which loads Pango, PangoFT2, HarfBuzz's subset
library and fontconfig from the system and needs at least one font; the browser tests drive
headless Chromium. pip installs none of these. ``make test`` runs this first::

    python3 tools/check_system.py --browser

It exits 1 with the ``apt-get install`` line of what is missing. A missing Chromium only
fails under ``CI=true`` (where the browser tests are required); elsewhere it is a note and
the browser tests skip with the reason. ``--debian-packages`` prints the whole package list
(``.ci/run`` installs it).

Standard library only: it runs with the system Python, before ``.venv`` exists.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Library:
    """A shared library, the file names it goes by and the Debian package holding it."""

    what: str
    package: str
    names: tuple[str, ...]  # as weasyprint tries them: Linux, macOS, Windows


LIBRARIES = (
    Library("Pango (text layout of PDF pages)", "libpango-1.0-0",
            ("libpango-1.0.so.0", "libpango-1.0.dylib", "libpango-1.0-0.dll")),
    Library("PangoFT2 (fonts for Pango)", "libpangoft2-1.0-0",
            ("libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib", "libpangoft2-1.0-0.dll")),
    Library("HarfBuzz subset library (fonts embedded in PDFs)", "libharfbuzz-subset0",
            ("libharfbuzz-subset.so.0", "libharfbuzz-subset.0.dylib",
             "libharfbuzz-subset-0.dll")),
    Library("fontconfig (finds the fonts)", "libfontconfig1",
            ("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig-1.dll")),
)
FONT_PACKAGE = "fonts-dejavu-core"
CHROMIUM_PACKAGE = "chromium"
ELSEWHERE = ("On other systems install Pango, HarfBuzz with its subset library, fontconfig and "
             "a font (WeasyPrint's installation notes list each system), and Chromium for the "
             "browser tests.")


def default_chromium() -> str:
    """Where the browser tests look for Chromium: ``chromium`` on PATH, else /usr/bin."""
    return shutil.which("chromium") or "/usr/bin/chromium"


def debian_packages() -> list[str]:
    """Every Debian/Ubuntu package placerisk needs from the system, browser tests included."""
    return [lib.package for lib in LIBRARIES] + [FONT_PACKAGE, CHROMIUM_PACKAGE]


def _load(library: Library) -> ctypes.CDLL | None:
    for name in library.names:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def font_count(fontconfig: ctypes.CDLL) -> int:
    """How many fonts fontconfig finds (0 on a system with the library but no font)."""
    fontconfig.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
    fontconfig.FcPatternCreate.restype = ctypes.c_void_p
    fontconfig.FcObjectSetCreate.restype = ctypes.c_void_p
    fontconfig.FcObjectSetAdd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fontconfig.FcFontList.restype = ctypes.c_void_p
    fontconfig.FcFontList.argtypes = [ctypes.c_void_p] * 3
    fontconfig.FcFontSetDestroy.argtypes = [ctypes.c_void_p]
    config = fontconfig.FcInitLoadConfigAndFonts()
    objects = fontconfig.FcObjectSetCreate()
    fontconfig.FcObjectSetAdd(objects, b"family")
    fonts = fontconfig.FcFontList(config, fontconfig.FcPatternCreate(), objects)
    if not fonts:
        return 0
    count = ctypes.cast(fonts, ctypes.POINTER(ctypes.c_int))[0]  # FcFontSet.nfont
    fontconfig.FcFontSetDestroy(fonts)
    return int(count)


def missing_libraries(libraries: tuple[Library, ...] = LIBRARIES) -> list[tuple[str, str]]:
    """``(what is missing, Debian package)`` for each library that does not load, and fonts."""
    missing = []
    fontconfig = None
    for library in libraries:
        loaded = _load(library)
        if loaded is None:
            missing.append((f"{library.what}: {library.names[0]} not found", library.package))
        elif library.package == "libfontconfig1":
            fontconfig = loaded
    if fontconfig is not None and font_count(fontconfig) == 0:
        missing.append(("a font: fontconfig finds none", FONT_PACKAGE))
    return missing


def report(missing: list[tuple[str, str]]) -> str:
    """The message: what is missing, the apt-get line that installs exactly that, elsewhere."""
    lines = ["placerisk: missing from this system:"]
    lines += [f"  - {what}" for what, _ in missing]
    packages = " ".join(dict.fromkeys(package for _, package in missing))
    lines += ["On Debian or Ubuntu install them with:", f"  sudo apt-get install -y {packages}",
              ELSEWHERE]
    return "\n".join(lines)


def check(*, browser: bool, chromium: str | None = None, ci: bool | None = None,
          libraries: tuple[Library, ...] = LIBRARIES) -> tuple[int, str]:
    """Exit status and message: 1 when something required is missing, else 0.

    Chromium is required only with ``browser`` under CI (``CI=true``); elsewhere its absence
    is a note, as the browser tests then skip.
    """
    ci = os.environ.get("CI", "").lower() == "true" if ci is None else ci
    chromium = default_chromium() if chromium is None else chromium
    missing = missing_libraries(libraries)
    no_browser = browser and not Path(chromium).is_file()
    if no_browser and ci:
        missing.append((f"headless Chromium for the browser tests (CI=true): {chromium} not "
                        "found", CHROMIUM_PACKAGE))
    if missing:
        return 1, report(missing)
    if no_browser:
        return 0, (f"placerisk: headless Chromium not found at {chromium}: the browser tests "
                   f"will be skipped. To run them: sudo apt-get install -y {CHROMIUM_PACKAGE}")
    return 0, ""


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--browser", action="store_true",
                        help="also look for Chromium (required under CI=true)")
    parser.add_argument("--chromium", help="where to look for it [default: chromium on PATH, "
                        "else /usr/bin/chromium]")
    parser.add_argument("--debian-packages", action="store_true",
                        help="print the Debian/Ubuntu packages to install, and stop")
    args = parser.parse_args(argv)
    if args.debian_packages:
        print(" ".join(debian_packages()))
        return 0
    status, message = check(browser=args.browser, chromium=args.chromium)
    if message:
        print(message, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
