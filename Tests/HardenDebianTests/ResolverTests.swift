import Foundation
import HardenDebian
import HardenTestSupport
import Testing

/// Resolution over the local repository's suites (served over HTTP, read and checked like a
/// real mirror's).
@Suite struct ResolverTests {
    static func plan(_ packages: [String], exclude: Set<String> = [], at mirror: URL? = nil) async throws -> DebianPlan {
        let repository = try await LocalAptRepository.shared()
        return try await serving(repository.root) { url in
            var spec = SuiteSpec(mirror: mirror ?? url, suite: "bookworm", packages: packages)
            spec.keyring = repository.keyring
            spec.exclude = exclude
            return try await SuiteReader(cache: nil).plan(spec)
        }
    }

    static func versions(_ plan: DebianPlan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: plan.resolution.packages.map { ($0.package.name, $0.package.version.description) })
    }

    static func failure(_ packages: [String], exclude: Set<String> = []) async throws -> DebianError {
        do {
            let plan = try await plan(packages, exclude: exclude)
            Issue.record("resolved \(versions(plan)) instead of failing")
            throw TestSetupError("no failure")
        } catch let error as DebianError {
            return error
        }
    }

    @Test func readsTheThreeSuitesAndTakesTheNewestVersion() async throws {
        let plan = try await Self.plan(["libfoo", "libupd"])
        #expect(plan.indexes.map(\.source.suite) == ["bookworm", "bookworm-updates", "bookworm-security"])
        let resolved = Dictionary(uniqueKeysWithValues: plan.resolution.packages.map { ($0.package.name, $0.package) })
        #expect(resolved["libfoo"]?.version.description == "1.3-1+deb12u1")
        #expect(resolved["libfoo"]?.origin.suite == "bookworm-security")
        #expect(resolved["libupd"]?.version.description == "1.1-1")
        #expect(Self.versions(plan) == ["libfoo": "1.3-1+deb12u1", "libc6": "2.36-9", "libupd": "1.1-1"])
        #expect(plan.resolution.packages.first { $0.package.name == "libc6" }?.chain == ["libfoo", "libc6"])
    }

    @Test func alternativesTakeTheFirstSatisfiableOrOneAlreadyChosen() async throws {
        let plan = try await Self.plan(["libfoo", "alt-app"])
        let names = Set(Self.versions(plan).keys)
        #expect(names == ["libfoo", "libc6", "alt-app", "libbar"])
        #expect(!names.contains("libbaz"), "libfoo was already chosen for 'libbaz | libfoo'")
    }

    @Test func virtualPackagesThroughProvides() async throws {
        let plan = try await Self.plan(["virt-user", "vprov-user"])
        // An unversioned or too old provide does not meet `libver-virtual (>= 2)`.
        #expect(Set(Self.versions(plan).keys) == ["virt-user", "mawkish", "vprov-user", "prov-new"])
    }

    @Test func versionedRelationsTakeTheNewestAdmittedVersion() async throws {
        let plan = try await Self.plan(["ver-user"])
        #expect(Self.versions(plan)["libold"] == "1.5-1", "security's 2.1 is not << 2.0")
        #expect(Self.versions(plan)["libfoo"] == "1.3-1+deb12u1")
        let error = try await Self.failure(["strict-user"])
        #expect(error.code == .unsatisfiable)
        #expect(error.message.contains("strict-user depends on libfoo (= 9.9)"), "\(error)")
    }

    @Test func twoRelationsNoVersionMeetsAreAConflict() async throws {
        let error = try await Self.failure(["wants-new", "wants-old"])
        #expect(error.code == .conflict)
        #expect(error.message.contains("wants-old depends on libold (<< 2.0)"), "\(error)")
        #expect(error.message.contains("libold 2.1-1+deb12u1, already chosen for wants-new → libold"), "\(error)")
    }

    @Test func cyclesEnd() async throws {
        #expect(Set(Self.versions(try await Self.plan(["cyc-a"])).keys) == ["cyc-a", "cyc-b"])
    }

    @Test func aMissingDependencyNamesTheChain() async throws {
        let error = try await Self.failure(["top"])
        #expect(error.code == .unsatisfiable)
        #expect(error.message.contains("top → mid depends on libghost (>= 1)"), "\(error)")
        let unknown = try await Self.failure(["no-such-package"])
        #expect(unknown.message.contains("no-such-package: no package of that name for amd64"), "\(unknown)")
    }

    @Test func aShellInTheClosureFailsWithItsChainUnlessExcluded() async throws {
        let error = try await Self.failure(["shelly"])
        #expect(error.code == .forbidden)
        #expect(error.message.contains("shelly → helper → dash"), "\(error)")
        #expect(error.message.contains("add dash to exclude"), "\(error)")

        let plan = try await Self.plan(["shelly"], exclude: ["dash"])
        #expect(Set(Self.versions(plan).keys) == ["shelly", "helper", "libc6"])
        #expect(
            plan.resolution.broken == [
                BrokenDependency(dependent: "helper 1.0", relation: "dash", dropped: ["dash"], reason: .excluded)
            ])
    }

    @Test func installTimeOnlyDependenciesAreLeftOutAndReported() async throws {
        let plan = try await Self.plan(["tzdataish"])
        #expect(Set(Self.versions(plan).keys) == ["tzdataish"])
        #expect(
            plan.resolution.broken == [
                BrokenDependency(
                    dependent: "tzdataish 2024a-0", relation: "debconf (>= 0.5) | debconf-2.0",
                    dropped: ["debconf", "debconf-2.0"], reason: .installOnly)
            ])
    }

    @Test func essentialAndPriorityPullNothingIn() async throws {
        let names = Set(Self.versions(try await Self.plan(["libfoo"])).keys)
        #expect(!names.contains("base-passwd") && !names.contains("dash"))
    }

    @Test func architectureQualifiersAndOtherArchitectures() async throws {
        #expect(Set(Self.versions(try await Self.plan(["qual-user"])).keys) == ["qual-user", "pythonish", "libc6"])
        let error = try await Self.failure(["arm-user"])
        #expect(error.message.contains("arm-user depends on arm-only"), "\(error)")
    }
}
