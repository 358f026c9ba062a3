import Foundation
import HardenDebian
import HardenVersions
import Testing

/// Relation fields (Debian Policy §7.1) and deb822 paragraphs.
@Suite struct RelationTests {
    @Test func parsesAlternativesBoundsAndQualifiers() throws {
        let groups = try RelationGroup.parseField(
            "libc6 (>= 2.36), debconf (>= 0.5) | debconf-2.0, python3:any, perl:native(<<6),\n libx [amd64] <!nocheck>",
            context: "test")
        #expect(
            groups.map(\.description) == [
                "libc6 (>= 2.36)", "debconf (>= 0.5) | debconf-2.0", "python3:any", "perl:native (<< 6)", "libx",
            ])
        #expect(groups[3].alternatives[0].qualifier == "native")
    }

    @Test(arguments: [
        ("<<", "1.0", "0.9", true), ("<<", "1.0", "1.0", false), ("<=", "1.0", "1.0", true), ("=", "1:1.0", "1.0", false),
        (">=", "1.0~rc1", "1.0", true), (">>", "2.36-9", "2.36-9+deb12u1", true), (">>", "1.0", "1.0", false),
        ("<", "1.0", "1.0", true), (">", "1.0", "1.0", true),
    ])
    func versionBounds(op: String, bound: String, candidate: String, admitted: Bool) throws {
        let relation = try #require(try RelationGroup.parseField("p (\(op) \(bound))", context: "test").first?.alternatives.first)
        #expect(try #require(relation.bound).admits(try #require(DebianVersion(candidate))) == admitted)
    }

    @Test func malformedRelationsNameTheField() {
        #expect(throws: DebianError.self) { try RelationGroup.parseField("libc6 (>= )", context: "Depends of x 1.0") }
        do {
            _ = try RelationGroup.parseField("libc6 (~> 1)", context: "Depends of x 1.0")
        } catch {
            #expect(error.message == "Depends of x 1.0: 'libc6 (~> 1)' has the unknown operator '~>'")
        }
    }

    @Test func deb822KeepsContinuationLinesAndReportsBadLines() throws {
        let text = "Package: a\nDescription: one\n two\n .\n three\n\n\nPackage: b\n"
        let stanzas = try Deb822.stanzas(in: Data(text.utf8), name: "t")
        #expect(stanzas.map { $0["Package"] } == ["a", "b"])
        #expect(stanzas[0]["Description"] == "one\ntwo\n\nthree")
        #expect(stanzas[1].line == 8)
        do {
            _ = try Deb822.stanzas(in: Data("Package: a\nno colon here\n".utf8), name: "Packages of x")
            Issue.record("accepted a line without a colon")
        } catch {
            #expect(error.message == "Packages of x line 2: 'no colon here' is not a 'Field: value' line")
        }
    }
}
