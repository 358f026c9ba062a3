import Foundation
import HardenConcurrency

/// A failure to load advisories: which file, and what is wrong with it.
public struct AdvisoryError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

/// Loads OSV advisories from a directory the user keeps in sync (`*.json`, one advisory or an
/// array of them per file, any depth), decoding files on every core.
public enum AdvisoryStore {
    public static func load(directory: String) throws(AdvisoryError) -> AdvisoryMatcher {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AdvisoryError(file: directory, message: "no such directory (give --advisories a directory of OSV JSON files)")
        }
        let files = jsonFiles(under: directory)
        let decoded = concurrentMap(files.count) { index -> Result<[OSVAdvisory], AdvisoryError> in
            Result { () throws(AdvisoryError) in try decode(files[index]) }
        }
        var matcher = AdvisoryMatcher()
        for result in decoded {
            for advisory in try result.get() { matcher.add(advisory) }
        }
        return matcher
    }

    static func jsonFiles(under directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        while let name = walker.nextObject() as? String {
            if name.hasSuffix(".json") { files.append(directory + "/" + name) }
        }
        return files.sorted()
    }

    static func decode(_ file: String) throws(AdvisoryError) -> [OSVAdvisory] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw AdvisoryError(file: file, message: "cannot be read")
        }
        let decoder = JSONDecoder()
        do {
            if data.first(where: { !$0.isWhitespace }) == UInt8(ascii: "[") {
                return try decoder.decode([OSVAdvisory].self, from: data)
            }
            return [try decoder.decode(OSVAdvisory.self, from: data)]
        } catch let DecodingError.keyNotFound(key, context) {
            throw AdvisoryError(file: file, message: "not an OSV advisory: missing \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw AdvisoryError(file: file, message: "not an OSV advisory: wrong type at \(path(context.codingPath))")
        } catch let DecodingError.valueNotFound(_, context) {
            throw AdvisoryError(file: file, message: "not an OSV advisory: null at \(path(context.codingPath))")
        } catch {
            throw AdvisoryError(file: file, message: "not valid JSON (\(error.localizedDescription))")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(
            in: CharacterSet(charactersIn: "."))
    }
}

extension UInt8 {
    fileprivate var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}
