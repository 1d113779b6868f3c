"""The compliance frameworks secmonkey's rule tags name, and how a tag splits into one.

A rule's compliance tag is `<framework prefix> <control>` (`PCI DSS 4.0 1.3.1`,
`NIST 800-53 rev 5 SC-7(5)`); which controls each rule maps to is decided in the
auditor's rules package. This module only knows the frameworks themselves (their ids in
URLs, their names, the titles of the controls the rules use, from the published texts),
so the API and the console can show a per-framework posture without importing the
auditor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secmonkey.common.errors import NotFound


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    tag_prefix: str
    controls: dict[str, str] = field(default_factory=dict)  # control id -> published title
    aliases: tuple[str, ...] = ()

    def control_title(self, control: str) -> str:
        return self.controls.get(control, "")


CIS = Framework(
    "cis",
    "CIS Amazon Web Services Foundations Benchmark",
    "CIS AWS Foundations",
    {
        "5.2": "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server "
        "administration ports",
        "5.3": "Ensure no security groups allow ingress from ::/0 to remote server "
        "administration ports",
        "5.4": "Ensure the default security group of every VPC restricts all traffic",
    },
    ("cis-aws", "cis-aws-foundations"),
)
PCI = Framework(
    "pci",
    "PCI DSS v4.0",
    "PCI DSS 4.0",
    {
        "1.2.1": "Configuration standards for NSC rulesets are defined, implemented, and "
        "maintained",
        "1.2.5": "All services, protocols, and ports allowed are identified, approved, and have "
        "a defined business need",
        "1.2.7": "Configurations of NSCs are reviewed at least once every six months to confirm "
        "they are relevant and effective",
        "1.3.1": "Inbound traffic to the CDE is restricted to only traffic that is necessary",
        "1.3.2": "Outbound traffic from the CDE is restricted to only traffic that is necessary",
    },
    ("pci-dss", "pci-dss-4.0"),
)
HIPAA = Framework(
    "hipaa",
    "HIPAA Security Rule (45 CFR Part 164 Subpart C)",
    "HIPAA",
    {"164.312(e)(1)": "Transmission security"},
)
SOC2 = Framework(
    "soc2",
    "SOC 2 (AICPA Trust Services Criteria 2017)",
    "SOC 2",
    {
        "CC6.6": "Logical access security measures against threats from sources outside the "
        "system boundaries"
    },
    ("soc-2",),
)
NIST_800_53 = Framework(
    "nist-800-53",
    "NIST SP 800-53 Rev. 5",
    "NIST 800-53 rev 5",
    {
        "AC-4": "Information Flow Enforcement",
        "AC-17": "Remote Access",
        "CA-3": "Information Exchange",
        "CM-6": "Configuration Settings",
        "CM-7": "Least Functionality",
        "CM-7(1)": "Least Functionality | Periodic Review",
        "CM-8": "System Component Inventory",
        "SC-7": "Boundary Protection",
        "SC-7(5)": "Boundary Protection | Deny by Default — Allow by Exception",
    },
    ("nist", "nist-800-53-rev5", "nist-800-53r5", "800-53"),
)
FSBP = Framework(
    "fsbp",
    "AWS Foundational Security Best Practices",
    "AWS FSBP",
    {
        "EC2.2": "VPC default security groups should not allow inbound or outbound traffic",
        "EC2.13": "Security groups should not allow ingress from 0.0.0.0/0 or ::/0 to port 22",
        "EC2.14": "Security groups should not allow ingress from 0.0.0.0/0 or ::/0 to port 3389",
        "EC2.18": "Security groups should only allow unrestricted incoming traffic for "
        "authorized ports",
        "EC2.19": "Security groups should not allow unrestricted access to ports with high risk",
        "EC2.22": "Unused Amazon EC2 security groups should be removed",
    },
    ("aws-fsbp",),
)

FRAMEWORKS: dict[str, Framework] = {f.id: f for f in (CIS, PCI, HIPAA, SOC2, NIST_800_53, FSBP)}
# The posture view's frameworks (issue #17); FSBP is AWS's own and shown as well.
POSTURE_FRAMEWORKS = ("cis", "pci", "hipaa", "soc2", "nist-800-53", "fsbp")
_BY_NAME = {
    name.lower(): f for f in FRAMEWORKS.values() for name in (f.id, f.tag_prefix, *f.aliases)
}


def framework(name: str) -> Framework:
    """The framework called `name` (its id, an alias or its tag prefix, any case)."""
    found = _BY_NAME.get(name.strip().lower())
    if found is None:
        known = ", ".join(FRAMEWORKS)
        raise NotFound(f"no compliance framework {name!r}; known: {known}")
    return found


def split_tag(tag: str) -> tuple[Framework, str] | None:
    """(framework, control) of a tag such as `PCI DSS 4.0 1.3.1`; None for an unknown one.
    The longest matching prefix wins, so one framework's name may start another's."""
    best: Framework | None = None
    for f in FRAMEWORKS.values():
        if tag.startswith(f.tag_prefix + " ") and (
            best is None or len(f.tag_prefix) > len(best.tag_prefix)
        ):
            best = f
    if best is None:
        return None
    control = tag[len(best.tag_prefix) + 1 :].strip()
    return (best, control) if control else None


def controls_in(tags: list[str] | tuple[str, ...], of: Framework) -> list[str]:
    """The controls of framework `of` among `tags`, in their order."""
    out: list[str] = []
    for tag in tags:
        parsed = split_tag(tag)
        if parsed is not None and parsed[0] is of and parsed[1] not in out:
            out.append(parsed[1])
    return out
