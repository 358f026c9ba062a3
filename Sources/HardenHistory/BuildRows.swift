import Foundation
import HardenSQLite

/// A build record as a row, the same for both backends: the columns in ``selectList`` order,
/// JSON text for the maps and lists, seconds since 1970 for times.
package enum BuildRows {
    /// The columns `insert` writes, in the order of ``columns(_:)`` (the select list less `id`).
    package static let insertList = """
        recipe, status, trigger, reasons, input_digest, input_parts, base_images,
        builder_image, runtime_image, image_archive, builder_log, runtime_log, builder_seconds,
        runtime_seconds, started_at, finished_at, exit_status, error, pid, base_digests, verification,
        verify_report, scan_report, vulnerabilities
        """

    package static let selectList = """
        id, recipe, status, trigger, reasons, input_digest, input_parts, base_images, builder_image, runtime_image,
        image_archive, builder_log, runtime_log, builder_seconds, runtime_seconds, started_at, finished_at,
        exit_status, error, pid, base_digests, verification, verify_report, scan_report, vulnerabilities
        """

    package static func columns(_ r: BuildRecord) -> [SQLValue] {
        func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
        func real(_ value: Double?) -> SQLValue { value.map(SQLValue.real) ?? .null }
        return [
            .text(r.recipe), .text(r.status.rawValue), .text(r.trigger), .text(json(r.reasons)), .text(r.inputDigest),
            .text(json(r.inputParts)), .text(json(r.baseImages)), text(r.builderImage), text(r.runtimeImage),
            text(r.imageArchive), text(r.builderLog), text(r.runtimeLog), real(r.builderSeconds),
            real(r.runtimeSeconds), .real(r.startedAt.timeIntervalSince1970),
            real(r.finishedAt?.timeIntervalSince1970), r.exitStatus.map { .integer(Int64($0)) } ?? .null,
            text(r.error), r.pid.map { .integer(Int64($0)) } ?? .null, .text(json(r.baseDigests)),
            text(r.verification?.rawValue), text(r.verifyReport), text(r.scanReport),
            r.vulnerabilities.map { .text(json($0)) } ?? .null,
        ]
    }

    package static func record(_ row: [SQLValue], path: String) throws(StoreError) -> BuildRecord {
        guard row.count == 25, let id = row[0].integer, let recipe = row[1].text,
            let status = row[2].text.flatMap(BuildRecord.Status.init(rawValue:)), let trigger = row[3].text,
            let started = row[15].real
        else {
            throw StoreError(
                path: path, message: "a build row does not have the expected columns", hint: "the file may be damaged")
        }
        return BuildRecord(
            id: id, recipe: recipe, status: status, trigger: trigger,
            reasons: decode(row[4].text) ?? [], inputDigest: row[5].text ?? "",
            inputParts: decode(row[6].text) ?? [:], baseImages: decode(row[7].text) ?? [:],
            builderImage: row[8].text, runtimeImage: row[9].text, imageArchive: row[10].text,
            builderLog: row[11].text, runtimeLog: row[12].text, builderSeconds: row[13].real,
            runtimeSeconds: row[14].real, startedAt: Date(timeIntervalSince1970: started),
            finishedAt: row[16].real.map(Date.init(timeIntervalSince1970:)), exitStatus: row[17].integer.map { Int($0) },
            error: row[18].text, pid: row[19].integer.map { Int32($0) }, baseDigests: decode(row[20].text) ?? [:],
            verification: row[21].text.flatMap(BuildRecord.Verification.init(rawValue:)), verifyReport: row[22].text,
            scanReport: row[23].text, vulnerabilities: decode(row[24].text))
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
    }

    private static func decode<T: Decodable>(_ text: String?) -> T? {
        guard let data = text?.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }
}
