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
    /// Base image name → registry manifest digest, for bases that came from a registry.
    public var baseDigests: [String: String]
    public var verification: Verification?
    public var verifyReport: String?
    public var scanReport: String?
    public var vulnerabilities: VulnerabilityCounts?

    public enum Verification: String, Sendable, Codable {
        case pass, fail
    }

    public init(
        id: Int64? = nil, recipe: String, status: Status, trigger: String = "manual", reasons: [String],
        inputDigest: String, inputParts: [String: String], baseImages: [String: String],
        builderImage: String? = nil, runtimeImage: String? = nil, imageArchive: String? = nil,
        builderLog: String? = nil, runtimeLog: String? = nil, builderSeconds: Double? = nil,
        runtimeSeconds: Double? = nil, startedAt: Date, finishedAt: Date? = nil, exitStatus: Int? = nil,
        error: String? = nil, pid: Int32? = nil, baseDigests: [String: String] = [:], verification: Verification? = nil,
        verifyReport: String? = nil, scanReport: String? = nil, vulnerabilities: VulnerabilityCounts? = nil
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
        self.baseDigests = baseDigests
        self.verification = verification
        self.verifyReport = verifyReport
        self.scanReport = scanReport
        self.vulnerabilities = vulnerabilities
    }
}

/// What a build's scan found: counts by severity, and the findings that have a fixed version.
public struct VulnerabilityCounts: Sendable, Equatable, Codable {
    public var critical: Int
    public var high: Int
    public var medium: Int
    public var low: Int
    public var unknown: Int
    /// "ID package" of every finding with a fixed version, sorted.
    public var fixable: [String]

    public var total: Int { critical + high + medium + low + unknown }

    public init(critical: Int = 0, high: Int = 0, medium: Int = 0, low: Int = 0, unknown: Int = 0, fixable: [String] = []) {
        self.critical = critical
        self.high = high
        self.medium = medium
        self.low = low
        self.unknown = unknown
        self.fixable = fixable
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

/// A recipe's recent builds, newest first.
public struct RecentAttempts: Sendable {
    /// The newest succeeded build, and the one before it.
    public var lastSucceeded: BuildRecord?
    public var previousSucceeded: BuildRecord?
    /// The newest build that ran (succeeded, failed or interrupted).
    public var lastAttempt: BuildRecord?
    /// Failed or interrupted attempts since the last success. A build abandoned by a harden that
    /// died (marked interrupted by a later run, so without an exit status) is not the recipe's
    /// failure and does not count: the next harden, on this machine or another, takes over at once.
    public var failuresInARow = 0

    public init() {}

    /// Takes in the next older build of the recipe (builds come newest first).
    public mutating func add(_ record: BuildRecord) {
        if record.status == .succeeded {
            if lastAttempt == nil { lastAttempt = record }
            if lastSucceeded == nil {
                lastSucceeded = record
            } else if previousSucceeded == nil {
                previousSucceeded = record
            }
        } else if record.status == .interrupted, record.exitStatus == nil {
            return
        } else {
            if lastAttempt == nil { lastAttempt = record }
            if lastSucceeded == nil { failuresInARow += 1 }
        }
    }
}

/// An image harden pushed: where, under which tag and digest, and the build it came from.
public struct PushRecord: Sendable, Codable, Equatable {
    public var build: Int64?
    public var recipe: String?
    public var registry: String
    public var repository: String
    public var tag: String
    public var digest: String
    public var pushedAt: Date

    public init(
        build: Int64?, recipe: String?, registry: String, repository: String, tag: String, digest: String, pushedAt: Date
    ) {
        self.build = build
        self.recipe = recipe
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.pushedAt = pushedAt
    }
}
