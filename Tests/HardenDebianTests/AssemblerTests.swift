import Foundation
import HardenArchive
import HardenDebian
import HardenImage
import HardenTestSupport
import Testing

/// `.deb` files unpacked in process into one normalized layer.
@Suite struct AssemblerTests {
    /// The plan's packages fetched into `cache`, then assembled.
    static func assemble(
        _ packages: [String], cache: BlobCache, release: OSRelease? = nil, layout: BaseLayout = BaseLayout()
    ) async throws -> (Assembly, DebianPlan) {
        let repository = try await LocalAptRepository.shared()
        return try await serving(repository.root) { url in
            var spec = SuiteSpec(mirror: url, suite: "bookworm", packages: packages)
            spec.keyring = repository.keyring
            let plan = try await SuiteReader(cache: cache).plan(spec)
            var files: [PackageFile] = []
            for resolved in plan.resolution.packages {
                files.append(PackageFile(resolved.package, path: try await PackageFetcher(cache: cache).fetch(resolved.package)))
            }
            return (try Assembler(sourceDateEpoch: 1_700_000_000).assemble(files, release: release, layout: layout), plan)
        }
    }

    /// The layer's entries by path, read back with libarchive.
    static func entries(_ layer: LayerBlob) throws -> [String: (ArchiveEntry, Data)] {
        let reader = try ArchiveReader(source: MemorySource(layer.data), name: "layer")
        var entries: [String: (ArchiveEntry, Data)] = [:]
        while let entry = try reader.next() {
            let path = entry.path.hasSuffix("/") ? String(entry.path.dropLast()) : entry.path
            entries[path] = (entry, try reader.readData(limit: 1 << 20))
        }
        return entries
    }

    /// What `update-ca-certificates` and `base-files` would have written, and the scripts that did not run.
    @Test func certificatesAndOSReleaseAreWrittenInTheScriptsPlace() async throws {
        try await withScratchDirectory { directory in
            let release = OSRelease(origin: "Debian", version: "12.8", codename: "bookworm")
            let (assembly, _) = try await Self.assemble(["ca-certificates"], cache: BlobCache(directory: directory), release: release)
            let entries = try Self.entries(assembly.layers[0])
            let bundle = String(decoding: try #require(entries["etc/ssl/certs/ca-certificates.crt"]).1, as: UTF8.self)
            #expect(
                bundle
                    == "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nZZZ\n-----END CERTIFICATE-----\n",
                "sorted by path, each ending in a newline")
            #expect(entries["etc/ssl/certs/Alpha_Root.pem"]?.0.symlinkTarget == "/usr/share/ca-certificates/mozilla/Alpha_Root.crt")
            let osRelease = String(decoding: try #require(entries["usr/lib/os-release"]).1, as: UTF8.self)
            #expect(osRelease.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"))
            #expect(osRelease.contains("VERSION_ID=\"12\"\n") && osRelease.contains("ID=debian\n"))
            #expect(entries["etc/os-release"]?.0.symlinkTarget == "../usr/lib/os-release")
            #expect(String(decoding: try #require(entries["etc/debian_version"]).1, as: UTF8.self) == "12.8\n")
            #expect(assembly.scripts == ["ca-certificates": ["postinst"]])
            #expect(assembly.written.first == "/etc/ssl/certs/ca-certificates.crt from 2 certificates")
            #expect(assembly.owners["etc/ssl/certs/ca-certificates.crt"] == "harden")
        }
    }

    @Test func packagesAndAccountsMakeOneNormalizedLayer() async throws {
        try await withScratchDirectory { directory in
            let cache = BlobCache(directory: directory)
            let (assembly, plan) = try await Self.assemble(["libfoo"], cache: cache)
            #expect(assembly.layers.count == 1)
            let entries = try Self.entries(assembly.layers[0])
            #expect(entries["usr/share/doc/libfoo/README"]?.1 == Data("libfoo 1.3-1+deb12u1\n".utf8))
            #expect(assembly.owners["usr/share/doc/libc6/README"] == "libc6")
            let status = try #require(entries["var/lib/dpkg/status.d/libfoo"]?.1)
            #expect(String(decoding: status, as: UTF8.self).hasPrefix("Package: libfoo\nVersion: 1.3-1+deb12u1\n"))
            #expect(entries["var/lib/dpkg/status.d/libc6.md5sums"] == nil, "dpkg-deb makes no md5sums")
            #expect(String(decoding: try #require(entries["etc/passwd"]?.1), as: UTF8.self).contains("nonroot:x:65532:65532:"))
            #expect(String(decoding: try #require(entries["etc/group"]?.1), as: UTF8.self).contains("nonroot:x:65532:"))
            #expect(entries["etc/nsswitch.conf"] != nil)
            #expect(entries["tmp"]?.0.mode == 0o1777 && entries["tmp"]?.0.type == .directory)
            #expect(entries["home/nonroot"]?.0.uid == 65532)
            #expect(entries.values.allSatisfy { $0.0.mtime == 1_700_000_000 })
            let paths = entries.keys.map { Array($0.utf8) }
            #expect(assembly.conflicts.isEmpty)
            #expect(paths.count == Set(paths).count)
            #expect(plan.resolution.packages.count == 2)
            // The same packages give the same bytes.
            let again = try await Self.assemble(["libfoo"], cache: cache).0
            #expect(again.layers.map(\.digest) == assembly.layers.map(\.digest))
        }
    }

    /// `layering`: a layer per group in order, the rest last with harden's derived files; the
    /// accounts in the first, with their homes. Each layer has the parents of its own entries.
    @Test func groupsGetALayerEachAndAccountsAreWritten() async throws {
        try await withScratchDirectory { directory in
            let layout = BaseLayout(
                accounts: [.init(name: "app", uid: 10001, gid: 10001, home: "/srv/app"), .init(name: "web", uid: 10002, gid: 10001, home: "/home/web")],
                groups: [["libc6"]])
            let (assembly, _) = try await Self.assemble(["libfoo", "ca-certificates"], cache: BlobCache(directory: directory), layout: layout)
            #expect(assembly.layers.count == 2)
            let first = try Self.entries(assembly.layers[0])
            let rest = try Self.entries(assembly.layers[1])
            #expect(first["usr/share/doc/libc6/README"] != nil && rest["usr/share/doc/libc6/README"] == nil)
            #expect(first["var/lib/dpkg/status.d/libc6"] != nil && rest["var/lib/dpkg/status.d/libc6"] == nil)
            #expect(rest["usr/share/doc/libfoo/README"] != nil && first["usr/share/doc/libfoo/README"] == nil)
            #expect(rest["var/lib/dpkg/status.d/libfoo"] != nil)
            #expect(rest["etc/ssl/certs/ca-certificates.crt"] != nil, "made from the packages: in the last layer")
            #expect(rest["usr/share/doc"]?.0.type == .directory, "each layer has its entries' parents")
            let passwd = String(decoding: try #require(first["etc/passwd"]?.1), as: UTF8.self)
            #expect(passwd.hasSuffix("app:x:10001:10001:app:/srv/app:/sbin/nologin\nweb:x:10002:10001:web:/home/web:/sbin/nologin\n"))
            let group = String(decoding: try #require(first["etc/group"]?.1), as: UTF8.self)
            #expect(group == "root:x:0:\nnonroot:x:65532:\napp:x:10001:\n", "one group per gid")
            #expect(first["srv/app"]?.0.uid == 10001 && first["srv/app"]?.0.mode == 0o700)
            #expect(first["home/web"]?.0.gid == 10001)

            // A group naming a package the closure does not have is an error, not an empty layer.
            await #expect(throws: DebianError.self) {
                _ = try await Self.assemble(["libfoo"], cache: BlobCache(directory: directory), layout: BaseLayout(groups: [["python3"]]))
            }
        }
    }

    @Test func aPathTwoPackagesShipDifferentlyIsAConflict() async throws {
        try await withScratchDirectory { directory in
            let (assembly, _) = try await Self.assemble(["clash-a", "clash-b"], cache: BlobCache(directory: directory))
            #expect(assembly.conflicts == [PathConflict(path: "usr/lib/clash.conf", kept: "clash-a", dropped: "clash-b")])
            #expect(try Self.entries(assembly.layers[0])["usr/lib/clash.conf"]?.1 == Data("a\n".utf8))
        }
    }

    /// A `.deb` made by hand (Python's tarfile, binutils' ar), with whatever entries dpkg-deb would refuse.
    static func hostileDeb(_ entry: String, in directory: URL) async throws -> String {
        let script = """
            import io, sys, tarfile
            def tar(path, add):
                with tarfile.open(path, "w:gz") as t: add(t)
            def control(t):
                data = b"Package: hostile\\nVersion: 1.0\\nArchitecture: amd64\\n"
                info = tarfile.TarInfo("./control"); info.size = len(data); t.addfile(info, io.BytesIO(data))
            def data(t):
                info = tarfile.TarInfo(sys.argv[2])
                if sys.argv[3] == "char":
                    info.type = tarfile.CHRTYPE; info.devmajor = 1; info.devminor = 3
                    t.addfile(info)
                else:
                    info.size = 5; t.addfile(info, io.BytesIO(b"evil\\n"))
            tar(sys.argv[1] + "/control.tar.gz", control)
            tar(sys.argv[1] + "/data.tar.gz", data)
            open(sys.argv[1] + "/debian-binary", "w").write("2.0\\n")
            """
        let file = directory.appendingPathComponent("make.py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let (path, kind) = entry == "device" ? ("./dev/mem", "char") : (entry, "file")
        try await runTool("/usr/bin/python3", [file.path, directory.path, path, kind])
        let deb = directory.appendingPathComponent("hostile.deb").path
        try await runTool(
            "/usr/bin/ar",
            ["rc", deb] + ["debian-binary", "control.tar.gz", "data.tar.gz"].map { directory.appendingPathComponent($0).path })
        return deb
    }

    @Test(arguments: [
        ("./../../etc/cron.d/evil", "entry './../../etc/cron.d/evil' leaves the image root"),
        ("./usr/../../evil", "entry './usr/../../evil' leaves the image root"),
        ("device", "entry 'dev/mem' is a characterDevice node"),
    ])
    func hostileEntriesAreRefused(entry: String, expected: String) async throws {
        try await withScratchDirectory { directory in
            let deb = try await Self.hostileDeb(entry, in: directory)
            do {
                _ = try Assembler().assemble([PackageFile(name: "hostile", label: "hostile 1.0", path: deb)])
                Issue.record("a .deb with \(entry) was assembled")
            } catch let error as DebianError {
                #expect(error.code == .unsafeContent)
                #expect(error.message.contains("hostile 1.0 (\(deb)): data.tar.gz \(expected)"), "\(error)")
            }
        }
    }
}
