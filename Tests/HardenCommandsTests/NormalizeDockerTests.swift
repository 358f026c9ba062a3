import Foundation
import HardenImage
import HardenVerify
import Testing

/// Two no-cache builds of one Dockerfile differ as the engine saves them and agree once normalized;
/// the normalized image loads under its config digest, runs, and verifies like the raw one.
@Suite(.serialized) struct NormalizeDockerTests {
    static let epoch: Int64 = 1_700_000_000

    @Test func twoBuildsNormalizeToOneDigestThatLoadsAndRuns() throws {
        let project = try Project()
        let id = UUID().uuidString.prefix(8).lowercased()
        let repository = "harden-test/normalize-\(id)"
        defer {
            _ = try? CLI.shellWaiting(
                "docker rmi -f \(repository):a \(repository):b \(repository):normalized"
                    + " $(docker images -q --filter label=harden.test=\(id)) >/dev/null 2>&1")
        }
        try project.write("app.py", "print(open('/data/x').read().strip())\n")
        try project.write(
            "Dockerfile",
            """
            FROM \(DockerBuildTests.builderBase) AS builder
            LABEL harden.test=\(id)
            RUN mkdir -p /out && echo hi > /out/x && python3 -c "import compileall"
            FROM \(DockerBuildTests.runtimeBase)
            COPY --from=builder /out/x /data/x
            COPY app.py /app/app.py
            ENTRYPOINT ["/usr/bin/python3", "/app/app.py"]
            """)
        let root = project.root.path
        var raw: [String] = []
        for name in ["a", "b"] {
            let build = try CLI.shellWaiting(
                "cd \(root) && DOCKER_BUILDKIT=0 docker build --no-cache -q --label harden.test=\(id) -t \(repository):\(name) ."
            )
            #expect(build.status == 0, "\(build.output)")
            let saved = try CLI.shellWaiting("docker save -o \(root)/\(name).tar \(repository):\(name)")
            #expect(saved.status == 0, "\(saved.output)")
            raw.append(try CLI.shellWaiting("docker image inspect --format '{{.Id}}' \(repository):\(name)").output)
        }
        #expect(raw[0] != raw[1], "a plain docker build is not reproducible")

        let normalizer = ImageNormalizer(sourceDateEpoch: Self.epoch)
        let first = try normalizer.normalize(
            "\(root)/a.tar", layout: project.root.appendingPathComponent("a-oci"),
            dockerArchive: project.root.appendingPathComponent("a-normalized.tar"), tag: "\(repository):normalized")
        let second = try normalizer.normalize("\(root)/b.tar", layout: project.root.appendingPathComponent("b-oci"))
        #expect(first.manifestDigest == second.manifestDigest)
        #expect(first.configDigest == second.configDigest)
        #expect(first.configDigest.description != raw[0])

        let load = try CLI.shellWaiting("docker load -i \(root)/a-normalized.tar")
        #expect(load.status == 0, "\(load.output)")
        let loaded = try CLI.shellWaiting("docker image inspect --format '{{.Id}}' \(repository):normalized")
        #expect(loaded.output == first.configDigest.description)
        let run = try CLI.shellWaiting("docker run --rm \(repository):normalized")
        #expect(run.status == 0 && run.output == "hi", "\(run.output)")

        let before = try findings("\(root)/a.tar")
        let after = try findings("\(root)/a-oci")
        #expect(before == after)
    }

    /// Verify's findings as (rule, path) pairs.
    func findings(_ path: String) throws -> [String] {
        try Verifier().verify(path: path).findings.map { "\($0.rule) \($0.path ?? "")" }.sorted()
    }
}
