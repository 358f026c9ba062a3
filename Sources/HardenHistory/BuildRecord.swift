import Foundation

/// One build of one recipe, as kept in the history.
public struct BuildRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case planned, skipped, running, succeeded, failed, interrupted
    }

    public var id: Int64?
    public var recipe: String
    public var status: Status
    /// What asked for the build: `manual`, `schedule`, …
    public var trigger: String
    /// Why it was built or skipped, one line per reason.
    public var reasons: [String]
    public var inputDigest: String
    /// The hashed inputs by name (`recipe.runtime.env`, `context/app.py`, `base/python:3.11-slim`).
    public var inputParts: [String: String]
    /// Base image name → image ID, as resolved for this build.
    public var baseImages: [String: String]
    public var builderImage: String?
    public var runtimeImage: String?
    /// The saved runtime image (docker-archive) in the state directory.
    public var imageArchive: String?
    public var builderLog: String?
    public var runtimeLog: String?
    public var builderSeconds: Double?
    public var runtimeSeconds: Double?
    public var startedAt: Date
    public var finishedAt: Date?
    public var exitStatus: Int?
    public var error: String?
    public var pid: Int32?

    public init(
        id: Int64? = nil, recipe: String, status: Status, trigger: String = "manual", reasons: [String],
        inputDigest: String, inputParts: [String: String], baseImages: [String: String],
        builderImage: String? = nil, runtimeImage: String? = nil, imageArchive: String? = nil,
        builderLog: String? = nil, runtimeLog: String? = nil, builderSeconds: Double? = nil,
        runtimeSeconds: Double? = nil, startedAt: Date, finishedAt: Date? = nil, exitStatus: Int? = nil,
        error: String? = nil, pid: Int32? = nil
    ) {
        self.id = id
        self.recipe = recipe
        self.status = status
        self.trigger = trigger
        self.reasons = reasons
        self.inputDigest = inputDigest
        self.inputParts = inputParts
        self.baseImages = baseImages
        self.builderImage = builderImage
        self.runtimeImage = runtimeImage
        self.imageArchive = imageArchive
        self.builderLog = builderLog
        self.runtimeLog = runtimeLog
        self.builderSeconds = builderSeconds
        self.runtimeSeconds = runtimeSeconds
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitStatus = exitStatus
        self.error = error
        self.pid = pid
    }
}

/// A cached content hash of a context file, valid while size, mtime and inode match.
public struct FileHash: Sendable, Equatable {
    public var path: String
    public var size: Int64
    public var modified: Int64
    public var inode: Int64
    public var sha256: String

    public init(path: String, size: Int64, modified: Int64, inode: Int64, sha256: String) {
        self.path = path
        self.size = size
        self.modified = modified
        self.inode = inode
        self.sha256 = sha256
    }
}
