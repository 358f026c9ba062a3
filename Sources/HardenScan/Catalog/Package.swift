import Foundation
import HardenAdvisories

/// The operating system an image says it is (`/etc/os-release`).
public struct OperatingSystem: Sendable, Codable, Equatable {
    /// `ID`: debian, alpine, ubuntu…
    public var id: String
    /// `VERSION_ID`: 12, 3.22.2…
    public var versionID: String?
    public var prettyName: String?

    public init(id: String, versionID: String? = nil, prettyName: String? = nil) {
        self.id = id
        self.versionID = versionID
        self.prettyName = prettyName
    }

    /// The OSV ecosystem of this system's packages: `Debian:12`, `Alpine:v3.22`.
    public var osvEcosystem: String? {
        switch id {
        case "debian": return "Debian" + (versionID.map { ":" + ($0.split(separator: ".").first.map(String.init) ?? $0) } ?? "")
        case "alpine":
            guard let versionID else { return "Alpine" }
            return "Alpine:v" + versionID.split(separator: ".").prefix(2).joined(separator: ".")
        default: return nil
        }
    }
}

/// One installed package found in the final filesystem.
public struct Package: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable { case deb, apk, python }

    public var kind: Kind
    public var name: String
    public var version: String
    /// The source package and its version, when they differ (dpkg `Source:`, apk `o:`).
    public var sourceName: String?
    public var sourceVersion: String?
    public var architecture: String?
    /// Where the package record is (the status file, the dist-info directory).
    public var location: String
    /// The layer that introduced that record.
    public var layer: Int?

    public init(
        kind: Kind, name: String, version: String, sourceName: String? = nil, sourceVersion: String? = nil,
        architecture: String? = nil, location: String, layer: Int? = nil
    ) {
        self.kind = kind
        self.name = name
        self.version = version
        self.sourceName = sourceName
        self.sourceVersion = sourceVersion
        self.architecture = architecture
        self.location = location
        self.layer = layer
    }

    /// PEP 503 normalisation for Python names (`Flask_Login` → `flask-login`); others unchanged.
    public var normalizedName: String {
        kind == .python ? Self.normalizePython(name) : name
    }

    public static func normalizePython(_ name: String) -> String {
        AdvisoryKey.pep503(name)
    }

    /// ASCII letters, digits and `.-_~+` as they are; every other byte of the UTF-8 as `%XX`.
    static func percentEncoded(_ text: String) -> String {
        func kept(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "+"):
                true
            default: false
            }
        }
        guard !text.utf8.allSatisfy(kept) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            if kept(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The package URL (purl spec): `pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12`.
    public func purl(os: OperatingSystem?) -> String {
        let encode = Self.percentEncoded
        switch kind {
        case .python:
            return "pkg:pypi/\(encode(normalizedName))@\(encode(version))"
        case .deb, .apk:
            let namespace = os?.id ?? (kind == .deb ? "debian" : "alpine")
            var qualifiers: [String] = []
            if let architecture { qualifiers.append("arch=\(encode(architecture))") }
            if let os, let version = os.versionID { qualifiers.append("distro=\(encode(os.id))-\(encode(version))") }
            if let sourceName, sourceName != name { qualifiers.append("upstream=\(encode(sourceName))") }
            return "pkg:\(kind.rawValue)/\(encode(namespace))/\(encode(name))@\(encode(version))"
                + (qualifiers.isEmpty ? "" : "?" + qualifiers.joined(separator: "&"))
        }
    }
}
