import Foundation
import HardenImage

/// What an SBOM says about the image itself.
public struct SBOMSubject: Sendable {
    public var name: String
    public var configDigest: String
    /// Layer index → layer name (blob digest or diff_id).
    public var layers: [String]
    /// Creation time written into the document (`SOURCE_DATE_EPOCH` makes it reproducible).
    public var created: Date

    public init(name: String, configDigest: String, layers: [String], created: Date) {
        self.name = name
        self.configDigest = configDigest
        self.layers = layers
        self.created = created
    }

    public init(_ image: LocatedImage, created: Date) {
        self.init(
            name: image.repoTags.first ?? image.source.displayName, configDigest: image.configDigest.description,
            layers: image.layers.map(\.name), created: created)
    }
}

/// CycloneDX 1.5 and SPDX 2.3 documents (JSON) for a catalog.
public enum SBOMWriter {
    public enum Format: String, Sendable, CaseIterable { case cyclonedx, spdx }

    public static func render(_ catalog: Catalog, subject: SBOMSubject, format: Format, toolVersion: String) -> String {
        let object: Any = format == .cyclonedx ? cyclonedx(catalog, subject, toolVersion) : spdx(catalog, subject, toolVersion)
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// A UUID derived from the image and the document kind: the same image gives the same serial.
    static func uuid(_ seed: String) -> String {
        var bytes = Array(Digest.sha256(Data(seed.utf8)).hex.utf8.prefix(32))
        bytes[12] = UInt8(ascii: "5")
        let variant = "89ab".utf8.map { $0 }
        bytes[16] = variant[Int(bytes[16]) % 4]
        let hex = String(decoding: bytes, as: UTF8.self)
        let parts = [
            hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4),
            hex.dropFirst(20),
        ]
        return parts.joined(separator: "-")
    }

    private static func layerName(_ package: Package, _ subject: SBOMSubject) -> String? {
        package.layer.flatMap { subject.layers.indices.contains($0) ? subject.layers[$0] : nil }
    }

    // MARK: CycloneDX 1.5

    static func cyclonedx(_ catalog: Catalog, _ subject: SBOMSubject, _ version: String) -> [String: Any] {
        var components: [[String: Any]] = []
        if let os = catalog.os {
            var component: [String: Any] = ["type": "operating-system", "bom-ref": "os:\(os.id)", "name": os.id]
            if let version = os.versionID { component["version"] = version }
            if let pretty = os.prettyName { component["description"] = pretty }
            components.append(component)
        }
        var seenRefs = Set<String>()
        for package in catalog.packages {
            let purl = package.purl(os: catalog.os)
            var reference = purl
            var suffix = 1
            while !seenRefs.insert(reference).inserted {
                suffix += 1
                reference = "\(purl)#\(suffix)"
            }
            var properties = [["name": "harden:package:location", "value": package.location]]
            if let layer = layerName(package, subject) { properties.append(["name": "harden:layer:digest", "value": layer]) }
            if let source = package.sourceName { properties.append(["name": "harden:package:source", "value": source]) }
            components.append([
                "type": "library", "bom-ref": reference, "name": package.name, "version": package.version, "purl": purl,
                "properties": properties,
            ])
        }
        return [
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "serialNumber": "urn:uuid:\(uuid("cyclonedx:" + subject.configDigest))",
            "metadata": [
                "timestamp": timestamp(subject.created),
                "tools": ["components": [["type": "application", "name": "harden", "version": version]]],
                "component": [
                    "type": "container", "bom-ref": "image", "name": subject.name, "version": subject.configDigest,
                ] as [String: Any],
            ] as [String: Any],
            "components": components,
        ]
    }

    // MARK: SPDX 2.3

    static func spdx(_ catalog: Catalog, _ subject: SBOMSubject, _ version: String) -> [String: Any] {
        func package(_ id: String, name: String, version: String?, purpose: String, purl: String?, comment: String?) -> [String:
            Any]
        {
            var object: [String: Any] = [
                "SPDXID": id, "name": name, "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": purpose,
            ]
            if let version { object["versionInfo"] = version }
            if let purl {
                object["externalRefs"] = [
                    ["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl]
                ]
            }
            if let comment { object["sourceInfo"] = comment }
            return object
        }
        var packages = [
            package(
                "SPDXRef-Image", name: subject.name, version: subject.configDigest, purpose: "CONTAINER", purl: nil, comment: nil)
        ]
        var relationships: [[String: Any]] = [
            ["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Image"]
        ]
        if let os = catalog.os {
            packages.append(
                package(
                    "SPDXRef-OperatingSystem", name: os.id, version: os.versionID, purpose: "OPERATING-SYSTEM", purl: nil,
                    comment: os.prettyName))
            relationships.append([
                "spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-OperatingSystem",
            ])
        }
        for (index, item) in catalog.packages.enumerated() {
            let id = "SPDXRef-Package-\(item.kind.rawValue)-\(index + 1)"
            let comment = "found in \(item.location)" + (layerName(item, subject).map { ", layer \($0)" } ?? "")
            packages.append(
                package(
                    id, name: item.name, version: item.version, purpose: "LIBRARY", purl: item.purl(os: catalog.os),
                    comment: comment))
            relationships.append(["spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id])
        }
        return [
            "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": subject.name,
            "documentNamespace": "https://spdx.org/spdxdocs/harden-\(uuid("spdx:" + subject.configDigest))",
            "creationInfo": ["created": timestamp(subject.created), "creators": ["Tool: harden-\(version)"]] as [String: Any],
            "documentDescribes": ["SPDXRef-Image"],
            "packages": packages, "relationships": relationships,
        ]
    }
}
