#!/usr/bin/env python3
"""Writes N synthetic OSV advisories for the scan and import benchmarks.

Usage: Benchmarks/make-advisories.py N OUT [PACKAGES_FILE]
OUT is a directory (files go to OUT/<family>/<id>.json) or, when it ends in .zip, one zip
archive like OSV's all.zip. PACKAGES_FILE lists "ecosystem name version" lines (e.g. from a
harden SBOM). Shaped like the real Debian and PyPI sets:
- one advisory in ten names a package of the image; of those, one in a hundred affects its
  installed version (fixed just above it) and the rest were fixed long before, as most CVEs
  of a package in a stable release are: every one must be evaluated, few match (with
  150,000 advisories: 15,000 to evaluate, 150 that match, some 560 findings over the binary
  packages of their sources, ten times the 52 CVEs people count on python:3.11-slim);
- the rest name packages the image does not have;
- two in three carry no severity of their own and share a CVE alias with a record that has
  a CVSS vector, as Debian's records do with GHSA and NVD-derived ones.
Deterministic: the same arguments give the same files.
"""
import json
import os
import random
import sys
import zipfile

VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
]


def records(count, known, rng):
    for number in range(count):
        if known and number % 10 == 0:
            ecosystem, name, version = rng.choice(known)
            if number % 1000 == 0:
                fixed = version + ("+1" if ecosystem == "Debian:12" else ".post1")
            else:
                fixed = "0.0.1"
        else:
            ecosystem = rng.choice(["Debian:12", "PyPI"])
            name = "pkg%05d" % rng.randrange(20000)
            fixed = "%d.%d.%d" % (rng.randrange(5), rng.randrange(20), rng.randrange(20))
        family = ecosystem.split(":")[0]
        cve = "CVE-2099-%06d" % (number // 3)
        advisory = {
            "id": ("DEBIAN-" if family == "Debian" else "PYSEC-") + "BENCH-%06d" % number,
            "modified": "2026-01-01T00:00:00Z",
            "aliases": [cve],
            "summary": "synthetic advisory %d" % number,
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }],
        }
        if number % 3 == 0:
            advisory["severity"] = [{"type": "CVSS_V3", "score": rng.choice(VECTORS)}]
        yield family, advisory


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    count, out = int(sys.argv[1]), sys.argv[2]
    known = []
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as handle:
            known = [line.split() for line in handle if len(line.split()) == 3]
    rng = random.Random(42)
    if out.endswith(".zip"):
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for _, advisory in records(count, known, rng):
                info = zipfile.ZipInfo(advisory["id"] + ".json", date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, json.dumps(advisory))
        return 0
    for family in ("Debian", "PyPI"):
        os.makedirs(os.path.join(out, family), exist_ok=True)
    for family, advisory in records(count, known, rng):
        with open(os.path.join(out, family, advisory["id"] + ".json"), "w", encoding="utf-8") as handle:
            json.dump(advisory, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
