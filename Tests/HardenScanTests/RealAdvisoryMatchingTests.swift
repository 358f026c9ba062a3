import Foundation
import HardenAdvisories
import HardenProcess
import Testing

@testable import HardenScan

/// The 49 real PyPA records against the flask example's Python packages and every boundary
/// version the records name: harden's matches must be exactly what the OSV range semantics
/// give when PyPA's `packaging` orders the versions.
@Suite struct RealAdvisoryMatchingTests {
    static let records = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/osv/PyPI")

    /// The flask example's packages (Flask 2.2.5 and what pip gives it, plus the tools of the
    /// builder), then each version a record names, one below and one above it.
    static let evaluator = """
        import glob, json, sys
        from packaging.utils import canonicalize_name
        from packaging.version import Version, InvalidVersion

        example = {"flask": ["2.2.5"], "werkzeug": ["2.2.3", "3.0.1"], "jinja2": ["3.1.2"], "markupsafe": ["2.1.3"],
                   "itsdangerous": ["2.1.2"], "click": ["8.1.7"], "blinker": ["1.7.0"], "pip": ["23.0.1", "24.0"],
                   "setuptools": ["65.5.1"], "wheel": ["0.38.4"], "requests": ["2.31.0"], "urllib3": ["1.26.18"],
                   "cryptography": ["41.0.7"], "gunicorn": ["21.2.0"]}
        records = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/*.json"))]
        versions = {name: set(v) for name, v in example.items()}
        for record in records:
            for affected in record.get("affected", []):
                name = canonicalize_name(affected["package"]["name"])
                for r in affected.get("ranges", []):
                    if r["type"] == "GIT":
                        continue
                    for event in r["events"]:
                        for value in event.values():
                            if value == "0":
                                continue
                            v = Version(value)
                            versions.setdefault(name, set()).update(
                                {value, f"{v.major}.{v.minor}.{v.micro + 1}", f"{v.base_version}.post1"})
                                # just below: the previous patch, when there is one
                            if v.micro > 0:
                                versions[name].add(f"{v.major}.{v.minor}.{v.micro - 1}")

        def in_range(events, version):
            points = []
            for event in events:
                (kind, value), = event.items()
                points.append((Version("0") if value == "0" else Version(value), kind, value))
            points.sort(key=lambda p: (p[0], p[2] != "0"))
            affected = False
            for point, kind, value in points:
                if kind == "introduced" and (value == "0" or version >= point): affected = True
                elif kind == "fixed" and version >= point: affected = False
                elif kind == "last_affected" and version > point: affected = False
                elif kind == "limit" and version >= point: affected = False
            return affected

        packages, hits = [], []
        for name in sorted(versions):
            for text in sorted(versions[name], key=Version):
                packages.append([name, text])
                for record in records:
                    for affected in record.get("affected", []):
                        if affected["package"]["ecosystem"] != "PyPI" or canonicalize_name(affected["package"]["name"]) != name:
                            continue
                        listed = text in affected.get("versions", [])
                        ranged = any(in_range(r["events"], Version(text)) for r in affected.get("ranges", [])
                                     if r["type"] in ("ECOSYSTEM", "SEMVER"))
                        if listed or ranged:
                            hits.append([name, text, record["id"]])
                            break
        print(json.dumps({"packages": packages, "hits": hits}))
        """

    struct Expected: Decodable {
        var packages: [[String]]
        var hits: [[String]]
    }

    @Test func matchesAreExactlyWhatPackagingSays() async throws {
        let result = try await ProcessRunner().run(Command("python3", ["-c", Self.evaluator, Self.records.path]))
        guard result.ending == .exited(0) else {
            Issue.record("the evaluator failed: \(result.output)")
            return
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(result.output.utf8))
        #expect(expected.packages.count > 100)
        let packages = expected.packages.map {
            Package(kind: .python, name: $0[0], version: $0[1], location: "/app/deps/\($0[0])-\($0[1]).dist-info")
        }
        let matcher = try AdvisoryMatcher(database: AdvisoryDatabase.open(Self.records.path))
        let found = try matcher.match(packages, os: nil)
        let got = Set(found.map { "\($0.package) \($0.version) \($0.id)" })
        let want = Set(expected.hits.map { $0.joined(separator: " ") })
        #expect(got.subtracting(want).sorted() == [], "harden reports more than packaging says")
        #expect(want.subtracting(got).sorted() == [], "harden misses what packaging says")
        // The example itself: Flask 2.2.5 is past every flask record's fix.
        #expect(!got.contains { $0.hasPrefix("flask 2.2.5 ") })
        #expect(got.contains("werkzeug 2.2.3 PYSEC-2023-221"))
        #expect(got.count == want.count)
    }
}
