import Foundation
import HardenArchive

/// Where an image's files live: a tar (docker-archive or OCI archive) or an OCI layout directory.
///
/// Files are named by their path inside the image (`manifest.json`, `blobs/sha256/…`).
/// Nothing is extracted: a tar member is streamed from the archive when asked for.
public struct ImageSource: Sendable {
    public enum Container: Sendable, Equatable {
        case tar(path: String)
        case directory(path: String)
    }

    public let container: Container
    /// A tar member: its size, and where its bytes start when they can be read in place.
    struct Member: Sendable {
        var size: Int64
        var offset: Int64?
    }
    /// Member path → member (tars), read once at open.
    let members: [String: Member]

    public var displayName: String {
        switch container {
        case .tar(let path), .directory(let path): path
        }
    }

    public static func open(_ path: String) throws(ImageError) -> ImageSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageError(source: path, message: "no such file or directory")
        }
        if isDirectory.boolValue {
            return ImageSource(container: .directory(path: path), members: [:])
        }
        var members: [String: Member] = [:]
        do throws(ArchiveError) {
            let reader = try ArchiveReader(path: path)
            while let entry = try reader.next() {
                let name = Self.clean(entry.path)
                guard entry.type == .regular else { continue }
                if members[name] != nil {
                    throw ArchiveError(source: path, entry: entry.path, message: "appears twice in the image archive")
                }
                members[name] = Member(size: entry.size, offset: reader.dataOffset)
            }
        } catch {
            throw ImageError(source: path, message: "not a readable image archive: \(error.description)")
        }
        return ImageSource(container: .tar(path: path), members: members)
    }

    static func clean(_ path: String) -> String {
        var name = Substring(path)
        while name.hasPrefix("./") { name = name.dropFirst(2) }
        return String(name)
    }

    public func contains(_ name: String) -> Bool {
        switch container {
        case .tar: members[name] != nil
        case .directory(let root): FileManager.default.fileExists(atPath: root + "/" + name)
        }
    }

    public func size(of name: String) -> Int64? {
        switch container {
        case .tar: return members[name]?.size
        case .directory(let root):
            var info = stat()
            return stat(root + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int64(info.st_size) : nil
        }
    }

    /// Where a member's bytes lie as they are, to be sent without reading them here: the file,
    /// the offset of the first byte and the size. Nil when missing, or not stored in place.
    public func span(of name: String) -> (path: String, offset: Int64, size: Int64)? {
        switch container {
        case .directory(let root): size(of: name).map { (root + "/" + name, 0, $0) }
        case .tar(let path): members[name].flatMap { member in member.offset.map { (path, $0, member.size) } }
        }
    }

    /// A member's bytes as a stream.
    public func open(_ name: String) throws(ImageError) -> ByteSource {
        switch container {
        case .directory(let root):
            let path = root + "/" + name
            guard size(of: name) != nil else { throw ImageError(source: displayName, message: "\(name) is missing") }
            do {
                return try FileSource(path: path)
            } catch {
                throw ImageError(source: displayName, message: error.description)
            }
        case .tar(let path):
            guard let member = members[name] else { throw ImageError(source: displayName, message: "\(name) is missing") }
            do throws(ArchiveError) {
                if let offset = member.offset { return try FileSource(path: path, offset: offset, length: member.size) }
                let reader = try ArchiveReader(path: path)
                while let entry = try reader.next() {
                    if entry.type == .regular, Self.clean(entry.path) == name { return EntrySource(reader) }
                }
            } catch {
                throw ImageError(source: displayName, message: error.description)
            }
            throw ImageError(source: displayName, message: "\(name) is missing")
        }
    }

    /// A small member (a JSON document), read whole, refused above `limit` bytes.
    public func read(_ name: String, limit: Int) throws(ImageError) -> Data {
        if let size = size(of: name), size > Int64(limit) {
            throw ImageError(
                source: displayName, message: "\(name) is \(size) bytes, over the \(limit)-byte limit for a JSON document")
        }
        let source = try open(name)
        var data = Data()
        do throws(ArchiveError) {
            while true {
                let chunk = try source.nextChunk()
                if chunk.isEmpty { break }
                data.append(contentsOf: chunk)
                if data.count > limit {
                    throw ArchiveError(source: name, message: "over the \(limit)-byte limit for a JSON document", code: .limit)
                }
            }
        } catch {
            throw ImageError(source: displayName, message: error.description)
        }
        return data
    }
}
