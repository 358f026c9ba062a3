import Foundation
import HardenTestSupport
import Testing

/// `harden report` over a real history: two builds of a recipe, the second scanned against an
/// advisory that the first was not, rendered by a real browser (headless Chromium).
@Suite struct ReportCommandTests {
    @Test func theReportPageShowsTheFleetAndWhatARebuildAdded() async throws {
        let project = try DockerBuildTests().tinyProject()
        let fewer = project.root.appendingPathComponent("osv-without-zlib")
        try FileManager.default.createDirectory(at: fewer, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: ScanCommandTests.advisories)
        where file != "unfixed-zlib.json" {
            try FileManager.default.copyItem(
                atPath: ScanCommandTests.advisories + "/" + file, toPath: fewer.appendingPathComponent(file).path)
        }
        try project.write(
            "Recipes/never.yaml",
            try String(contentsOf: project.root.appendingPathComponent("Recipes/tiny.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "name: tiny-", with: "name: never-"))
        let first = try await project.harden(["build", "Recipes/tiny.yaml", "--advisories", fewer.path])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        // Another input, so another image with a scan report of its own.
        try project.write("Recipes/tiny/input.txt", "hello again\n")
        let second = try await project.harden(["build", "Recipes/tiny.yaml", "--advisories", ScanCommandTests.advisories])
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")

        let written = try await project.harden(["report", "--output", "site"])
        #expect(written.status == 0, "\(written.stderr)")
        let page = project.root.appendingPathComponent("site/index.html")
        #expect(written.stdout.contains(page.path))
        let html = try String(contentsOf: page, encoding: .utf8)
        // Nothing is fetched: the only URL is the SVG namespace.
        #expect(!html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("://"))

        // What a browser makes of it, from a file:// URL.
        let dom = try await CLI.shell(
            "chromium --headless --no-sandbox --disable-gpu --dump-dom 'file://\(page.path)' 2>/dev/null")
        #expect(dom.status == 0)
        #expect(dom.output.contains("<table id=\"fleet\">"), "\(dom.output.prefix(400))")
        #expect(dom.output.contains(">never-") && dom.output.contains("never built"))
        #expect(dom.output.contains("added DEBIAN-CVE-2023-45853"), "\(dom.output)")
        #expect(dom.output.contains("<svg") && dom.output.contains("class=\"low\""))

        let markdown = try await project.harden(["report", "--format", "markdown"])
        #expect(markdown.status == 0 && markdown.stdout.contains("| recipe | last build |"), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("added DEBIAN-CVE-2023-45853"))
        let json = try await project.harden(["report", "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["recipes"] as? [Any])?.count == 2)
    }
}
