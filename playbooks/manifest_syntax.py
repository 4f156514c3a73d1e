"""manifest-syntax: repository YAML that does not parse, so no fix can be written into it.

A broken manifest is a finding with its file and line, not a crash: the other playbooks
go on with the files that do parse.
"""

from __future__ import annotations

from diagnostics.findings import Evidence, Finding, Location, ObjectRef, finding_id
from playbooks.base import Context

ID = "manifest-syntax"


class ManifestSyntax:
    id = ID
    title = "Repository manifests that do not parse"
    kinds: tuple[str, ...] = ()
    uses_repo = True
    uses_registry = False

    async def run(self, ctx: Context) -> list[Finding]:
        if ctx.repo is None:
            return []
        out = []
        for p in ctx.repo.problems:
            ref = ObjectRef("File", p.path)
            loc = Location(p.path, p.line)
            out.append(
                Finding(
                    id=finding_id(ID, ref, "parse"),
                    playbook=ID,
                    severity="warning",
                    object=ref,
                    title=f"{p.path} is not valid YAML",
                    explanation=(
                        f"{p.path} line {p.line}: {p.message}. kubectl apply would reject it, and pitstop "
                        "cannot offer fixes inside it until it parses."
                    ),
                    evidence=(Evidence("file", p.message, f"{p.path}:{p.line}", loc),),
                    location=loc,
                    cause="parse",
                )
            )
        return out


PLAYBOOK = ManifestSyntax()
