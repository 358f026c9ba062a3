#!/usr/bin/env python3
"""Validates an SBOM against its format's published schema and rules.

Usage: scripts/validate-sbom.py cyclonedx|spdx FILE
CycloneDX 1.5 JSON: the official JSON schema (cyclonedx-python-lib, strict).
SPDX 2.3 JSON: parsed and fully validated by spdx-tools.
Prints nothing and exits 0 when valid; prints every problem and exits 1 otherwise.
"""
import sys


def cyclonedx(path):
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with open(path, encoding="utf-8") as handle:
        error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(handle.read())
    return [str(error)] if error else []


def spdx(path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = parse_file(path)
    return [message.validation_message for message in validate_full_spdx_document(document)]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("cyclonedx", "spdx"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems = (cyclonedx if sys.argv[1] == "cyclonedx" else spdx)(sys.argv[2])
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
