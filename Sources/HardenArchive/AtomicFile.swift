import Foundation

/// A file written whole or not at all: into a temporary name beside it, synced, then renamed.
public enum AtomicFile {
    public struct Failure: Error, LocalizedError, CustomStringConvertible {
        public var path: String
        public var reason: String
        /// The file was already there and `replacing` was off.
        public var exists = false
        public var description: String { "cannot write \(path): \(reason)" }
        public var errorDescription: String? { description }
    }

    /// Runs `body` on the temporary file's descriptor, then puts the file at `path`. A failure
    /// (`body`'s error, or a `Failure` to open, sync or rename) leaves nothing behind and `path` untouched.
    /// The file gets `mode` from its creation (a private key is never readable by others); the
    /// temporary name is created fresh, never through a file or link already there. With
    /// `replacing: false` an existing `path` is a `Failure` with `exists` set, and stays as it is.
    public static func write(
        to path: String, mode: mode_t = 0o644, replacing: Bool = true, _ body: (Int32) throws -> Void
    ) throws {
        let temporary = path + ".partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Failure(path: temporary, reason: String(cString: strerror(errno))) }
        var open = true
        defer {
            if open { close(descriptor) }
            unlink(temporary)  // nothing left when it was renamed or linked
        }
        try body(descriptor)
        let synced = fsync(descriptor) == 0
        open = false
        guard close(descriptor) == 0, synced else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        if replacing {
            guard rename(temporary, path) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        } else {
            // link(2) fails when `path` exists, so a file another process put there meanwhile survives.
            guard link(temporary, path) == 0 else {
                throw Failure(path: path, reason: String(cString: strerror(errno)), exists: errno == EEXIST)
            }
        }
    }

    /// Writes `data` to `path` whole or not at all.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644, replacing: Bool = true) throws {
        try write(to: path, mode: mode, replacing: replacing) { descriptor in
            guard data.withUnsafeBytes({ writeAll(descriptor, $0.baseAddress, $0.count) }) else {
                throw Failure(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }
}

/// Writes every byte, retrying after interruptions; false on an error (see `errno`).
func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Bool {
    guard let buffer else { return count == 0 }
    var offset = 0
    while offset < count {
        let written = Foundation.write(descriptor, buffer + offset, count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

/// A file written in place without waiting for the disk: for the logs and Dockerfiles of a
/// build's own directory, which are read right away and worth nothing after a crash.
public enum InPlaceFile {
    /// Creates or truncates `path` and returns its descriptor, for a caller that writes as it goes.
    public static func create(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFile.Failure(path: path, reason: String(cString: strerror(errno))) }
        return descriptor
    }

    public static func write(_ data: Data, to path: String) throws {
        let descriptor = try create(path)
        defer { close(descriptor) }
        guard data.withUnsafeBytes({ writeAll(descriptor, $0.baseAddress, $0.count) }) else {
            throw AtomicFile.Failure(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
