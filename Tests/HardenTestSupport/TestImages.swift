import Foundation
import HardenArchive
import HardenImage

/// Builds small images for the tests, as OCI layouts in a temporary directory.
public struct TestImages {
    public let directory: URL

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("harden-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Writes the layers as an OCI layout and returns its path.
    public func image(
        _ layers: [[(ArchiveEntry, Data)]], config: ContainerConfig = .init(user: "65532", entrypoint: ["/app/run"])
    ) throws -> String {
        let blobs = try layers.map { try ImageWriter.layer($0, compression: .gzip) }
        let url = directory.appendingPathComponent(UUID().uuidString)
        let steps = layers.indices.map { "RUN step \($0 + 1)" }
        try ImageWriter.writeLayout(
            config: ImageWriter.config(layers: blobs, config: config, history: steps), layers: blobs, to: url)
        return url.path
    }
}

extension ContainerConfig {
    /// Built through its JSON form, as an image config carries it.
    public init(
        user: String? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String]? = nil, healthcheck: [String]? = nil
    ) {
        var object: [String: Any] = [:]
        object["User"] = user
        object["Entrypoint"] = entrypoint
        object["Cmd"] = cmd
        object["Env"] = env
        if let healthcheck { object["Healthcheck"] = ["Test": healthcheck] }
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        self =
            (try? JSONDecoder().decode(ContainerConfig.self, from: data))
            ?? (try! JSONDecoder().decode(ContainerConfig.self, from: Data("{}".utf8)))
    }
}

/// Entry builders: `file`, `dir`, `link`, `hardlink`, `whiteout`, `opaque`.
public func file(_ path: String, _ content: String = "data", mode: UInt32 = 0o644, uid: Int64 = 0) -> (ArchiveEntry, Data) {
    file(path, Data(content.utf8), mode: mode, uid: uid)
}

public func file(_ path: String, _ content: Data, mode: UInt32 = 0o644, uid: Int64 = 0) -> (ArchiveEntry, Data) {
    (ArchiveEntry(path: path, type: .regular, size: Int64(content.count), mode: mode, uid: uid), content)
}

public func executable(_ path: String, _ content: String = "\u{7F}ELF\u{02}\u{01}\u{01} a program") -> (ArchiveEntry, Data) {
    file(path, content, mode: 0o755)
}

public func dir(_ path: String, mode: UInt32 = 0o755) -> (ArchiveEntry, Data) {
    (ArchiveEntry(path: path, type: .directory, mode: mode), Data())
}

public func link(_ path: String, to target: String) -> (ArchiveEntry, Data) {
    (ArchiveEntry(path: path, type: .symlink, mode: 0o777, symlinkTarget: target), Data())
}

public func hardlink(_ path: String, to target: String) -> (ArchiveEntry, Data) {
    (ArchiveEntry(path: path, type: .hardlink, mode: 0o755, hardlinkTarget: target), Data())
}

public func whiteout(_ path: String) -> (ArchiveEntry, Data) {
    let parent = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    return file((parent.isEmpty ? "" : parent + "/") + ".wh." + name, "")
}

public func opaque(_ directory: String) -> (ArchiveEntry, Data) {
    file(directory + "/.wh..wh..opq", "")
}

public func device(_ path: String) -> (ArchiveEntry, Data) {
    (ArchiveEntry(path: path, type: .characterDevice, mode: 0o666, deviceMajor: 1, deviceMinor: 3), Data())
}

/// A minimal base: /app/run (an ELF), /etc/passwd with root and nonroot.
public let base: [(ArchiveEntry, Data)] = [
    dir("etc"),
    file(
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\nadmin:x:0:0::/:/sbin/nologin\n"),
    dir("app"), executable("app/run"),
]

/// The host's real busybox (Debian's busybox-static, installed by scripts/setup.sh).
public func realBusybox() throws -> Data {
    guard let data = FileManager.default.contents(atPath: "/bin/busybox") else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "/bin/busybox (apt-get install busybox-static)"])
    }
    return data
}
