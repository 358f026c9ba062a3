import Foundation
import HardenArchive
import HardenEngine
import HardenImage
import HardenPlan
import HardenRecipe
import HardenVerify

/// The verification report kept beside a saved image (`<image>.verify.json`), and a key file
/// saying what it was made under: the image ID, the policy, this harden executable, and the
/// day when an exception can expire. A build that gives an image already verified under the
/// same key reuses the report instead of reading the image again.
struct KeptVerification {
    let report: String
    let keyFile: String

    init(archive: String) {
        let stem = archive.hasSuffix(".tar") ? String(archive.dropLast(4)) : archive
        report = stem + ".verify.json"
        keyFile = stem + ".verify.key"
    }

    static func key(image: String, policy: Policy, now: Date = Date()) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var parts = [
            "image": image,
            "policy": (try? encoder.encode(policy)).map { Digest.sha256($0).description } ?? "unencodable",
            "harden": executableIdentity,
        ]
        if policy.exceptions.contains(where: { $0.expires != nil }) {
            parts["day"] = ISO8601DateFormatter.string(from: now, timeZone: .gmt, formatOptions: [.withFullDate])
        }
        return Planner.digest(parts)
    }

    /// Size, change time and inode of the running executable: a rebuilt harden verifies again.
    static let executableIdentity: String = {
        var info = stat()
        guard stat("/proc/self/exe", &info) == 0 else { return "unknown-\(UUID().uuidString)" }
        return "\(info.st_size)-\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)-\(info.st_ino)"
    }()

    /// The kept report, when it was made under `key` and still reads.
    func load(key: String) -> VerifyReport? {
        guard let kept = try? String(contentsOfFile: keyFile, encoding: .utf8), kept == key,
            let data = FileManager.default.contents(atPath: report)
        else { return nil }
        return try? JSONDecoder().decode(VerifyReport.self, from: data)
    }

    /// Writes the report, then the key that vouches for it.
    func store(_ verification: VerifyReport, key: String) throws {
        try? FileManager.default.removeItem(atPath: keyFile)
        try AtomicFile.write(Data(ReportWriter.render(verification, as: .json, version: "").utf8), to: report)
        try AtomicFile.write(Data(key.utf8), to: keyFile)
    }
}
