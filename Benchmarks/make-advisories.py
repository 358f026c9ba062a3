#!/usr/bin/env python3
"""Writes N synthetic OSV advisories for the scan benchmark.

Usage: Benchmarks/make-advisories.py N DIR [PACKAGES_FILE]
PACKAGES_FILE lists "ecosystem name version" lines (e.g. from a harden SBOM); about one
advisory in ten names one of those packages, with a range around its version, the rest
name packages the image does not have. Files go to DIR/<ecosystem>/<id>.json.
Deterministic: the same arguments give the same files.
"""
import json
import os
import random
import sys


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    count, directory = int(sys.argv[1]), sys.argv[2]
    known = []
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as handle:
            known = [line.split() for line in handle if len(line.split()) == 3]
    rng = random.Random(42)
    for ecosystem in ("Debian", "PyPI"):
        os.makedirs(os.path.join(directory, ecosystem), exist_ok=True)
    for number in range(count):
        if known and number % 10 == 0:
            ecosystem, name, version = rng.choice(known)
            fixed = version + ("+1" if ecosystem == "Debian:12" else ".post1")
        else:
            ecosystem = rng.choice(["Debian:12", "PyPI"])
            name = "pkg%05d" % rng.randrange(20000)
            fixed = "%d.%d.%d" % (rng.randrange(5), rng.randrange(20), rng.randrange(20))
        advisory = {
            "id": "HARDEN-BENCH-%06d" % number,
            "aliases": ["CVE-2099-%05d" % number],
            "modified": "2026-01-01T00:00:00Z",
            "summary": "synthetic advisory %d" % number,
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }],
        }
        family = ecosystem.split(":")[0]
        with open(os.path.join(directory, family, advisory["id"] + ".json"), "w", encoding="utf-8") as handle:
            json.dump(advisory, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
