import Foundation
import HardenConcurrency
import HardenVersions

/// The fields harden reads of a `Packages` index, as harden keeps them in its cache: a header
/// line, then one line per package, its fields in a fixed order, separated by tabs. Read back
/// without building a field table per stanza, in parallel over chunks of lines.
enum CompactIndex {
    static let header = "harden-packages 2\n"
    static let fieldCount = 13

    /// nil when a package has a field that a line cannot hold (a tab or newline in a name,
    /// version or filename); such an index is parsed from its `Packages` text every time.
    static func encode(_ packages: [BinaryPackage]) -> Data? {
        var text = header
        text.reserveCapacity(packages.count * 160)
        func flat(_ value: String) -> String {  // relations: any whitespace separates
            value.contains(where: { $0 == "\t" || $0 == "\n" }) ? value.map { $0 == "\t" || $0 == "\n" ? " " : String($0) }.joined() : value
        }
        for package in packages {
            let plain = [package.name, package.version.description, package.architecture, package.filename, package.sha256]
            guard !plain.contains(where: { $0.contains(where: { $0 == "\t" || $0 == "\n" }) }) else { return nil }
            let fields = [
                package.name, package.version.description, package.architecture, flat(package.depends), flat(package.preDepends),
                flat(package.provides), package.essential ? "1" : "0", flat(package.priority ?? ""), package.filename,
                String(package.size), package.sha256, flat(package.source ?? ""), flat(package.multiArch ?? ""),
            ]
            text += fields.joined(separator: "\t")
            text += "\n"
        }
        return Data(text.utf8)
    }

    /// The packages of an `encode`d index; nil when it is not one (an older cache entry, damage).
    static func decode(_ data: Data, origin: SuiteSource) -> [BinaryPackage]? {
        let headerBytes = Array(header.utf8)
        guard data.count >= headerBytes.count, data.prefix(headerBytes.count).elementsEqual(headerBytes) else { return nil }
        // Chunks of whole lines, one per core.
        let start = data.startIndex + headerBytes.count
        let chunks = min(ProcessInfo.processInfo.activeProcessorCount, (data.endIndex - start) / 200_000 + 1)
        var cuts = [start]
        for chunk in 1..<max(chunks, 1) {
            var cut = start + (data.endIndex - start) * chunk / chunks
            while cut < data.endIndex, data[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
            if cut > cuts.last! { cuts.append(cut) }
        }
        cuts.append(data.endIndex)
        let bounds = cuts
        let parts = concurrentMap(bounds.count - 1) { part in
            data.withUnsafeBytes { raw in
                decodeLines(raw.bindMemory(to: UInt8.self), from: bounds[part] - data.startIndex, to: bounds[part + 1] - data.startIndex, origin: origin)
            }
        }
        var packages: [BinaryPackage] = []
        packages.reserveCapacity(parts.reduce(0) { $0 + ($1?.count ?? 0) })
        for part in parts {
            guard let part else { return nil }
            packages.append(contentsOf: part)
        }
        return packages
    }

    private static func decodeLines(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, origin: SuiteSource
    ) -> [BinaryPackage]? {
        var packages: [BinaryPackage] = []
        var fields: [String] = []
        fields.reserveCapacity(fieldCount)
        var fieldStart = start
        var index = start
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") {
                fields.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[fieldStart..<index]), as: UTF8.self))
                fieldStart = index + 1
                if byte == UInt8(ascii: "\n") {
                    guard fields.count == fieldCount, let version = DebianVersion(fields[1]), let size = Int(fields[9]) else {
                        return nil
                    }
                    packages.append(
                        BinaryPackage(
                            name: fields[0], version: version, architecture: fields[2], depends: fields[3], preDepends: fields[4],
                            provides: fields[5], essential: fields[6] == "1", priority: fields[7].isEmpty ? nil : fields[7],
                            filename: fields[8], size: size, sha256: fields[10], source: fields[11].isEmpty ? nil : fields[11],
                            multiArch: fields[12].isEmpty ? nil : fields[12], origin: origin))
                    fields.removeAll(keepingCapacity: true)
                }
            }
            index += 1
        }
        return fields.isEmpty && fieldStart == end ? packages : nil
    }
}
