import Foundation

/// A binary package for the test repository: its control fields.
public struct TestPackage: Sendable {
    public var name: String
    public var version: String
    public var architecture = "amd64"
    public var fields: [String: String] = [:]
    /// Files besides `usr/share/doc/<name>/README`: path → contents.
    public var files: [String: String] = [:]
    /// Maintainer scripts (`postinst`…) → contents; never run by harden.
    public var scripts: [String: String] = [:]

    public init(
        _ name: String, _ version: String, architecture: String = "amd64", _ fields: [String: String] = [:],
        files: [String: String] = [:], scripts: [String: String] = [:]
    ) {
        self.scripts = scripts
        self.name = name
        self.version = version
        self.architecture = architecture
        self.fields = fields
        self.files = files
    }
}

/// A signed apt repository made with Debian's own tools: `.deb` files by `dpkg-deb --build`,
/// indexes by `apt-ftparchive`, `InRelease` clear-signed by a throwaway `gpg` key. Built once
/// per test run; each test serves it (or a copy it damages) on 127.0.0.1.
///
/// Suites: `bookworm`, `bookworm-updates`, `bookworm-security` (newer versions, gzip index
/// only), and broken ones, each with `bookworm`'s packages: `unsigned`, `wrongkey` (signed by
/// a key not in the keyring), `expired` (Valid-Until 2026-01-01), `tampered-index`
/// (`Packages.xz` changed after signing), `tampered-deb` (a `.deb` changed after indexing).
public final class LocalAptRepository: Sendable {
    public let root: URL
    /// The public key that signs the good suites, for gpgv.
    public let keyring: String

    private static let built = Builder()

    public static func shared() async throws -> LocalAptRepository { try await built.repository() }

    private actor Builder {
        var task: Task<LocalAptRepository, any Error>?
        func repository() async throws -> LocalAptRepository {
            if let task { return try await task.value }
            let task = Task { try await LocalAptRepository.make() }
            self.task = task
            return try await task.value
        }
    }

    private init(root: URL, keyring: String) {
        self.root = root
        self.keyring = keyring
    }

    public static let main: [TestPackage] = [
        TestPackage("libc6", "2.36-9"),
        TestPackage("libfoo", "1.2-1", ["Depends": "libc6 (>= 2.36)"]),
        TestPackage("libold", "1.5-1"),
        TestPackage("libbar", "1.0-1"),
        TestPackage("libbaz", "1.0-1"),
        TestPackage("libupd", "1.0-1"),
        // alternatives: the first satisfiable, or one already chosen
        TestPackage("alt-app", "1.0", ["Depends": "libmissing | libbar, libbaz | libfoo"]),
        // virtual, unversioned and versioned
        TestPackage("virt-user", "1.0", ["Depends": "awk-virtual"]),
        TestPackage("mawkish", "1.0", ["Provides": "awk-virtual"]),
        TestPackage("vprov-user", "1.0", ["Depends": "libver-virtual (>= 2)"]),
        TestPackage("prov-old", "1.0", ["Provides": "libver-virtual (= 1)"]),
        TestPackage("prov-plain", "1.0", ["Provides": "libver-virtual"]),
        TestPackage("prov-new", "1.0", ["Provides": "libver-virtual (= 2.1)"]),
        // versioned
        TestPackage("ver-user", "1.0", ["Depends": "libold (<< 2.0), libfoo (>= 1.1)"]),
        TestPackage("strict-user", "1.0", ["Depends": "libfoo (= 9.9)"]),
        // a cycle
        TestPackage("cyc-a", "1.0", ["Depends": "cyc-b"]),
        TestPackage("cyc-b", "1.0", ["Pre-Depends": "cyc-a"]),
        // a missing dependency two levels down
        TestPackage("top", "1.0", ["Depends": "mid"]),
        TestPackage("mid", "1.0", ["Depends": "libghost (>= 1)"]),
        // a shell three levels down
        TestPackage("shelly", "1.0", ["Depends": "helper"]),
        TestPackage("helper", "1.0", ["Depends": "libc6, dash"]),
        TestPackage("dash", "0.5.12-2", ["Essential": "yes", "Priority": "required"]),
        // install-time only
        TestPackage("tzdataish", "2024a-0", architecture: "all", ["Depends": "debconf (>= 0.5) | debconf-2.0"]),
        TestPackage("debconf", "1.5.82", architecture: "all", ["Provides": "debconf-2.0", "Depends": "perl-base"]),
        TestPackage("perl-base", "5.36.0-7"),
        // essential and required, asked for by nobody
        TestPackage("base-passwd", "3.6.1", ["Essential": "yes", "Priority": "required"]),
        // architecture qualifiers; another architecture's package is not a candidate
        TestPackage("qual-user", "1.0", ["Depends": "pythonish:any, libc6:native"]),
        TestPackage("pythonish", "3.11", ["Multi-Arch": "allowed"]),
        TestPackage("arm-only", "1.0", architecture: "arm64"),
        TestPackage("arm-user", "1.0", ["Depends": "arm-only"]),
        // two relations no single version of libold meets
        TestPackage("wants-new", "1.0", ["Depends": "libold (>= 2.0)"]),
        TestPackage("wants-old", "1.0", ["Depends": "libold (<< 2.0)"]),
        // one path, two contents
        TestPackage("clash-a", "1.0", files: ["usr/lib/clash.conf": "a\n", "usr/lib/same.conf": "same\n"]),
        TestPackage("clash-b", "1.0", files: ["usr/lib/clash.conf": "b\n", "usr/lib/same.conf": "same\n"]),
        // certificates whose postinst would bundle them
        TestPackage(
            "ca-certificates", "20230311", architecture: "all", ["Depends": "debconf (>= 0.5) | debconf-2.0"],
            files: [
                "usr/share/ca-certificates/mozilla/Zeta_Root.crt": "-----BEGIN CERTIFICATE-----\nZZZ\n-----END CERTIFICATE-----\n",
                "usr/share/ca-certificates/mozilla/Alpha_Root.crt": "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----",
            ],
            scripts: ["postinst": "#!/bin/sh\nupdate-ca-certificates\n"]),
    ]
    public static let updates: [TestPackage] = [TestPackage("libupd", "1.1-1")]
    public static let security: [TestPackage] = [
        TestPackage("libfoo", "1.3-1+deb12u1", ["Depends": "libc6 (>= 2.36)"]),
        TestPackage("libold", "2.1-1+deb12u1"),
    ]

    private static func make() async throws -> LocalAptRepository {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("harden-apt-\(UUID().uuidString)")
        let work = root.appendingPathComponent("work")
        let mirror = root.appendingPathComponent("mirror")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let signer = try await GPGKey(home: work.appendingPathComponent("gnupg-good"), name: "harden test archive")
        let stranger = try await GPGKey(home: work.appendingPathComponent("gnupg-other"), name: "someone else")
        defer {
            signer.stopAgent()
            stranger.stopAgent()
        }
        let keyring = root.appendingPathComponent("keyring.gpg")
        try await signer.exportPublic(to: keyring)

        let later = Date().addingTimeInterval(30 * 86400)
        let good = Self.releaseDate(later)
        func suite(
            _ name: String, _ packages: [TestPackage], key: GPGKey?, validUntil: String, compress: [String] = ["xz"],
            keepPlain: Bool = true
        ) async throws {
            let pool = mirror.appendingPathComponent("pool/\(name)")
            for package in packages { try await buildDeb(package, into: pool, work: work) }
            let binary = mirror.appendingPathComponent("dists/\(name)/main/binary-amd64")
            try FileManager.default.createDirectory(at: binary, withIntermediateDirectories: true)
            let listing = try await runTool("/usr/bin/apt-ftparchive", ["packages", pool.path])
            let index = String(decoding: listing, as: UTF8.self).replacingOccurrences(
                of: "Filename: \(mirror.path)/", with: "Filename: ")
            let plain = binary.appendingPathComponent("Packages")
            try index.write(to: plain, atomically: true, encoding: .utf8)
            for tool in compress { try await runTool("/usr/bin/\(tool)", ["-k", "-f", plain.path]) }
            if !keepPlain { try FileManager.default.removeItem(at: plain) }
            try await release(name, mirror: mirror, key: key, validUntil: validUntil)
        }
        try await suite("bookworm", main, key: signer, validUntil: good)
        try await suite("bookworm-updates", updates, key: signer, validUntil: good)
        try await suite("bookworm-security", security, key: signer, validUntil: good, compress: ["gzip"], keepPlain: false)
        try await suite("unsigned", main, key: nil, validUntil: good)
        try await suite("wrongkey", main, key: stranger, validUntil: good)
        try await suite("expired", main, key: signer, validUntil: "Thu, 01 Jan 2026 00:00:00 UTC")
        try await suite("tampered-index", main, key: signer, validUntil: good)
        try await suite("tampered-deb", main, key: signer, validUntil: good)

        // After signing: one more stanza in tampered-index's Packages.xz, one byte of a .deb.
        let tamperedIndex = mirror.appendingPathComponent("dists/tampered-index/main/binary-amd64/Packages")
        var text = try String(contentsOf: tamperedIndex, encoding: .utf8)
        text = text.replacingOccurrences(of: "Package: libfoo\n", with: "Package: libfoo\nDepends: evil\n")
        try text.write(to: tamperedIndex, atomically: true, encoding: .utf8)
        try await runTool("/usr/bin/xz", ["-k", "-f", tamperedIndex.path])
        let deb = mirror.appendingPathComponent("pool/tampered-deb/libfoo_1.2-1_amd64.deb")
        var bytes = try Data(contentsOf: deb)
        bytes[bytes.count - 1] ^= 0xff
        try bytes.write(to: deb)

        try await removeWhenAgentsAreGone(work)
        return LocalAptRepository(root: mirror, keyring: keyring.path)
    }

    private static func buildDeb(_ package: TestPackage, into pool: URL, work: URL) async throws {
        let tree = work.appendingPathComponent("tree-\(UUID().uuidString)")
        let control = tree.appendingPathComponent("DEBIAN")
        let doc = tree.appendingPathComponent("usr/share/doc/\(package.name)")
        try FileManager.default.createDirectory(at: control, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: doc, withIntermediateDirectories: true)
        var lines = [
            "Package: \(package.name)", "Version: \(package.version)", "Architecture: \(package.architecture)",
            "Maintainer: harden tests <tests@example.invalid>",
        ]
        for (field, value) in package.fields.sorted(by: { $0.key < $1.key }) { lines.append("\(field): \(value)") }
        lines.append("Description: \(package.name), a package of harden's tests")
        try (lines.joined(separator: "\n") + "\n").write(
            to: control.appendingPathComponent("control"), atomically: true, encoding: .utf8)
        try "\(package.name) \(package.version)\n".write(
            to: doc.appendingPathComponent("README"), atomically: true, encoding: .utf8)
        for (name, contents) in package.scripts {
            let script = control.appendingPathComponent(name)
            try contents.write(to: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        }
        for (path, contents) in package.files {
            let file = tree.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: file, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: pool, withIntermediateDirectories: true)
        let deb = pool.appendingPathComponent("\(package.name)_\(package.version)_\(package.architecture).deb")
        try await runTool("/usr/bin/dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", tree.path, deb.path])
    }

    private static func release(_ suite: String, mirror: URL, key: GPGKey?, validUntil: String) async throws {
        let dists = mirror.appendingPathComponent("dists/\(suite)")
        let options = ["Suite=\(suite)", "Codename=\(suite)", "Architectures=amd64", "Components=main"].flatMap {
            ["-o", "APT::FTPArchive::Release::\($0)"]
        }
        let made = String(
            decoding: try await runTool("/usr/bin/apt-ftparchive", options + ["release", dists.path]), as: UTF8.self)
        // apt-ftparchive only offers a Valid-Until some time after now; the expired suite needs one before.
        let text = Data(made.replacingOccurrences(of: "\nMD5Sum:", with: "\nValid-Until: \(validUntil)\nMD5Sum:").utf8)
        let release = dists.appendingPathComponent("Release")
        try text.write(to: release)
        let inRelease = dists.appendingPathComponent("InRelease")
        if let key {
            try await key.clearsign(release, to: inRelease)
        } else {
            try text.write(to: inRelease)
        }
    }

    static func releaseDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }

    /// A copy of the mirror a test may change.
    public func copy(to directory: URL) throws -> URL {
        let target = directory.appendingPathComponent("mirror")
        try FileManager.default.copyItem(at: root, to: target)
        return target
    }
}

/// A throwaway signing key in a GnuPG home of its own.
struct GPGKey {
    let home: URL

    init(home: URL, name: String) async throws {
        self.home = home
        try FileManager.default.createDirectory(
            at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try await runTool(
            "/usr/bin/gpg",
            [
                "--homedir", home.path, "--batch", "--passphrase", "", "--quick-gen-key", "\(name) <tests@example.invalid>",
                "ed25519", "sign", "never",
            ])
    }

    func exportPublic(to file: URL) async throws {
        try await runTool("/usr/bin/gpg", ["--homedir", home.path, "--batch", "--yes", "--output", file.path, "--export"])
    }

    func clearsign(_ file: URL, to output: URL) async throws {
        try await runTool(
            "/usr/bin/gpg", ["--homedir", home.path, "--batch", "--yes", "--output", output.path, "--clearsign", file.path])
    }

    /// gpg starts an agent for the home; it must not outlive the test.
    func stopAgent() {
        _ = try? runToolWaiting("/usr/bin/gpgconf", ["--homedir", home.path, "--kill", "gpg-agent"])
    }
}

/// The repository served over HTTP on 127.0.0.1 for `body`, then stopped.
public func serving<T>(_ directory: URL, _ body: (URL) async throws -> T) async throws -> T {
    try await withScratchDirectory { scratch in
        let script = scratch.appendingPathComponent("serve.py")
        try """
        import functools, http.server, sys
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        print("port", server.server_address[1], flush=True)
        server.serve_forever()
        """.write(to: script, atomically: true, encoding: .utf8)
        let process = try TestProcess("python3", [script.path, directory.path], logFile: scratch.appendingPathComponent("log"))
        defer { process.stop() }
        guard let port = try await process.announcedPort() else { throw TestSetupError("the test mirror did not start:\n\(process.log)") }
        return try await body(URL(string: "http://127.0.0.1:\(port)")!)
    }
}

/// Removes a directory that held gpg homes: a killed agent may still be taking its sockets away
/// while the directory is walked, so a walk that finds one gone is tried again.
func removeWhenAgentsAreGone(_ directory: URL) async throws {
    for attempt in 1...20 {
        do {
            try FileManager.default.removeItem(at: directory)
            return
        } catch where attempt < 20 {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
