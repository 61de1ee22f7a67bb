"""What the browser tests check on any page: axe-core's accessibility rules, failed requests and
console errors, and a phone-width layout that never scrolls sideways.

axe-core is vendored (tests/vendor/axe-core/README.md says why and how to update it) and injected
into the page under test; the site itself never serves it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SERIOUS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in portrait, CSS pixels


def axe_script() -> str:
    """The vendored axe.min.js, refused if it is not the file the README names."""
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256, f"{AXE} is not axe-core {AXE_VERSION} as vendored"
    return source.decode()


def axe_violations(page, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """axe-core's violations on the page as it is now, of the given impacts, one readable line each.

    The WCAG 2.x A and AA rules and axe's best practices all run; a test asserts the list is empty,
    so its failure message names each rule, its impact and the elements that break it.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script())
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary.replace(/\\s+/g, " "))
        }))"""
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}): " + " | ".join(v["targets"])
        for v in violations
        if v["impact"] in impacts
    ]


@dataclass
class Problems:
    """Failed requests (status 400 and up) and console errors seen by a page since watch() began."""

    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.failed or self.console)


def watch(page) -> Problems:
    problems = Problems()
    page.on("response", lambda r: r.status >= 400 and problems.failed.append(f"{r.status} {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.console.append(f"{m.text} at {m.location}"))
    page.on("pageerror", lambda e: problems.console.append(f"uncaught: {e}"))
    return problems


def sideways_scroll(page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))
