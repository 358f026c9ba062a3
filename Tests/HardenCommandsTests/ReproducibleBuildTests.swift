import Foundation
import Testing

/// `harden build` ships the normalized image: two builds without cache give one digest,
/// where a plain `docker build` of the same Dockerfile gives two.
@Suite(.serialized) struct ReproducibleBuildTests {
    /// `build --format json` parsed: one object per recipe.
    func outcomes(_ result: CLI.Result) throws -> [[String: Any]] {
        try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], "\(result.stdout)")
    }

    /// Verify's findings as sorted "rule path" lines.
    func findings(_ image: String) async throws -> [String] {
        let result = try await CLI.run(["verify", image, "--format", "json"], in: CLI.packageRoot)
        #expect(result.status == 0 || result.status == 1, "stderr: \(result.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let list = report["findings"] as? [[String: Any]] ?? []
        return list.map { "\($0["rule"] ?? "") \($0["path"] ?? "")" }.sorted()
    }

    @Test func everyBuildableRecipeBuildsTwiceToOneDigest() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("harden-repro-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let map = ["--image-map", "scripts/local-image-map.yaml", "--state", state.path]
        let plan = try await CLI.run(["plan", "--format", "json"] + map, in: CLI.packageRoot)
        let plans = try #require(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [[String: Any]])
        let buildable = plans.filter { ($0["missingBases"] as? [String])?.isEmpty == true }.compactMap { $0["recipe"] as? String }
        #expect(buildable.contains("flask-distroless"), "the local bases must be there (scripts/make-local-bases.sh)")

        for recipe in buildable {
            let build = try await CLI.run(
                ["build", recipe, "--check-reproducible", "--format", "json"] + map, in: CLI.packageRoot)
            #expect(build.status == 0, "\(recipe): \(build.stdout)\n\(build.stderr)")
            let outcome = try #require(try outcomes(build).first)
            let check = try #require(outcome["reproducibility"] as? [String: Any], "\(recipe): no reproducibility check")
            #expect(check["identical"] as? Bool == true, "\(recipe): \(check["differences"] ?? "")")
            let images = check["images"] as? [String] ?? []
            let raw = check["rawImages"] as? [String] ?? []
            #expect(images.count == 2 && images[0] == images[1])
            #expect(raw.count == 2 && raw[0] != raw[1], "\(recipe): the engine's own images differ between the two builds")
            let image = try #require(outcome["runtimeImage"] as? String)
            #expect(images.first == image)
            for tag in outcome["tags"] as? [String] ?? [] {
                #expect(try await CLI.shell("docker image inspect --format '{{.Id}}' \(tag)").output == image, "\(tag)")
            }
            let layout = try #require(outcome["ociLayout"] as? String)
            #expect(FileManager.default.fileExists(atPath: layout + "/index.json"))

            // Normalizing changes no finding.
            let rawImage = try #require(outcome["rawRuntimeImage"] as? String)
            #expect(try await findings(rawImage) == findings(try #require(outcome["imageArchive"] as? String)))

            // The rendered Dockerfile, built twice by docker alone, gives two different images.
            let buildID = try #require(outcome["buildID"] as? Int)
            let directory = state.appendingPathComponent("builds/\(recipe)/\(buildID)").path
            let recipeText = try String(
                contentsOf: CLI.packageRoot.appendingPathComponent("Recipes/\(recipe).yaml"), encoding: .utf8)
            let context =
                recipeText.split(separator: "\n").first { $0.hasPrefix("context: ") }.map { String($0.dropFirst(9)) } ?? "."
            var plain: [String] = []
            for round in 1...2 {
                let iid = "\(directory)/plain-\(round).iid"
                let result = try await CLI.shell(
                    "cd \(CLI.packageRoot.path)/Recipes/\(context) && DOCKER_BUILDKIT=0 docker build -q --no-cache --build-arg SOURCE_DATE_EPOCH=0"
                        + " --target runtime --iidfile \(iid) -f \(directory)/Dockerfile . 2>&1")
                #expect(result.status == 0, "\(result.output)")
                plain.append(try String(contentsOfFile: iid, encoding: .utf8))
            }
            #expect(plain[0] != plain[1], "a plain docker build is not reproducible")
            _ = try? await CLI.shell("docker rmi \(plain.joined(separator: " ")) \(raw.joined(separator: " ")) >/dev/null 2>&1")
        }
    }

    @Test func aBuildThatIsNotReproducibleFailsTheCheckAndShowsTheFile() async throws {
        let project = try DockerBuildTests().tinyProject(run: "mkdir -p /out && date +%s%N > /out/input.txt")
        let result = try await project.harden(["build", "--check-reproducible"])
        #expect(result.status == 1, "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        #expect(result.stdout.contains("not reproducible: two builds without cache gave sha256:"))
        #expect(result.stdout.contains("~ /data/input.txt: content"), "\(result.stdout)")
        #expect(result.stdout.contains("second-build/normalized.tar"))
    }

    @Test func aCachedBuildReusesTheNormalizedImageAndLoadsItBackWhenRemoved() async throws {
        let project = try DockerBuildTests().tinyProject()
        let first = try outcomes(try await project.harden(["build", "--format", "json"])).first
        let image = try #require(first?["runtimeImage"] as? String)
        let tag = try #require((first?["tags"] as? [String])?.first)
        #expect(image != first?["rawRuntimeImage"] as? String)
        #expect(try await CLI.shell("docker image inspect --format '{{.Id}}' \(tag)").output == image)

        // Without cache, with the context file's mtime moved back years: still the same image.
        _ = try await CLI.shell("touch -d 2001-01-01 \(project.root.path)/Recipes/tiny/input.txt")
        let clean = try await project.harden(["build", "--no-cache", "--format", "json"])
        #expect(try outcomes(clean).first?["runtimeImage"] as? String == image, "\(clean.stderr)")

        let again = try await project.harden(["build", "--force", "--format", "json"])
        #expect(again.stderr.contains("already done"), "\(again.stderr)")
        #expect(try outcomes(again).first?["runtimeImage"] as? String == image)

        // The engine lost the image: the kept archive is loaded back under the same ID.
        _ = try await CLI.shell("docker rmi -f \(image)")
        let restored = try await project.harden(["build", "--force", "--format", "json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try outcomes(restored).first?["runtimeImage"] as? String == image)
        #expect(try await CLI.shell("docker image inspect --format '{{.Id}}' \(tag)").output == image)
        #expect(try await CLI.shell("docker run --rm \(tag)").output == "hello\nbuilt")
        _ = try? await CLI.shell("docker rmi -f \(image)")
    }
}
