"""Just enough of a Dockerfile parser to check deploy/docker/Dockerfile without a Docker engine:
stages, their bases (build args substituted), and each stage's effective configuration
(USER, HEALTHCHECK, CMD, ENV, EXPOSE inherited from the stage it is built `FROM`)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    @property
    def json_or_words(self) -> list[str]:
        """Exec form (JSON array) as a list; shell form as one `sh -c` string."""
        text = self.args.strip()
        if text.startswith("["):
            value = json.loads(text)
            assert isinstance(value, list)
            return [str(v) for v in value]
        return ["/bin/sh", "-c", text]


@dataclass
class Stage:
    name: str
    base: str
    parent: Stage | None
    instructions: list[Instruction] = field(default_factory=list)

    def own(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def _last(self, keyword: str) -> Instruction | None:
        found = self.own(keyword)
        if found:
            return found[-1]
        return self.parent._last(keyword) if self.parent else None

    @property
    def root_image(self) -> str:
        return self.parent.root_image if self.parent else self.base

    @property
    def user(self) -> str | None:
        found = self._last("USER")
        return found.args.strip() if found else None

    @property
    def healthcheck(self) -> Instruction | None:
        return self._last("HEALTHCHECK")

    @property
    def cmd(self) -> list[str] | None:
        found = self._last("CMD")
        return found.json_or_words if found else None

    @property
    def env(self) -> dict[str, str]:
        inherited = self.parent.env if self.parent else {}
        for instruction in self.own("ENV"):
            inherited = {**inherited, **parse_env(instruction.args)}
        return inherited

    @property
    def exposed(self) -> set[str]:
        ports = self.parent.exposed if self.parent else set()
        for instruction in self.own("EXPOSE"):
            ports = ports | set(instruction.args.split())
        return ports

    def copies(self) -> list[tuple[str | None, list[str], str]]:
        """Each COPY as (`--from` stage or None, sources, destination)."""
        result = []
        for instruction in self.own("COPY"):
            words = shlex.split(instruction.args)
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            source = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            result.append((source, paths[:-1], paths[-1]))
        return result


def parse_env(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy `ENV KEY value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with continuations joined and comments dropped, each with its first line number."""
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        lines.append((start, buffer + stripped))
        buffer = ""
    if buffer:
        lines.append((start, buffer))
    return lines


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, "")

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, text)


def parse(path: Path) -> dict[str, Stage]:
    """The stages of a Dockerfile by name (unnamed stages by their index)."""
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for number, line in logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            base = substitute(words[0], global_args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = Stage(name=name, base=base, parent=stages.get(base))
            stages[name] = current
        elif current is None:
            if keyword != "ARG":
                raise ValueError(f"{path}:{number}: {keyword} before the first FROM")
            arg_name, _, default = args.partition("=")
            global_args[arg_name.strip()] = default.strip()
        else:
            current.instructions.append(Instruction(keyword, args, number))
    return stages
