import Foundation

/// One OpenVEX statement as the gate applies it, read from a file by `OpenVEX.load`.
public struct VEXStatement: Sendable, Codable, Equatable {
    /// Where it was written: `vex.json: statements[2]`.
    public var source: String
    public var vulnerability: String
    public var aliases: [String]
    public var status: OpenVEX.Status
    public var justification: OpenVEX.Justification?
    /// Its `impact_statement`, else its `status_notes`.
    public var reason: String?
    /// When it was known true (RFC 3339): its `last_updated`, else its `timestamp`, else the document's.
    public var timestamp: String
    public var products: [OpenVEX.Component]
    /// `timestamp` parsed, and the order it was read in (across every file given): of two
    /// statements about one finding the newest wins, and at the same time the later one.
    var date = Date.distantPast
    var position = 0

    enum CodingKeys: String, CodingKey {
        case source, vulnerability, aliases, status, justification, reason, timestamp, products
    }

    /// Whether it speaks of this finding: the vulnerability by ID or alias, and a product that
    /// is the image (with no subcomponents, or one that is the finding's package) or that is
    /// the finding's package itself. A package of another image does not count.
    func applies(to finding: Vulnerability, in image: ImageIdentity?) -> Bool {
        let ids = Set([finding.id, finding.primaryID] + finding.aliases)
        guard ids.contains(vulnerability) || aliases.contains(where: ids.contains) else { return false }
        let package = PackageURL.of(finding).flatMap(PackageURL.init)
        return products.contains { product in
            guard let image, image.isNamed(by: product) else { return Self.names(package, product) }
            guard let subcomponents = product.subcomponents, !subcomponents.isEmpty else { return true }
            return subcomponents.contains { Self.names(package, $0) }
        }
    }

    /// Whether one of its products is this image.
    func isAbout(_ image: ImageIdentity?) -> Bool {
        guard let image else { return false }
        return products.contains(where: image.isNamed(by:))
    }

    /// Whether the component's purl (not an image's) covers the package.
    private static func names(_ package: PackageURL?, _ component: OpenVEX.Component) -> Bool {
        guard let package else { return false }
        return [component.id, component.identifiers?.purl].compactMap { $0.flatMap(PackageURL.init) }.contains {
            $0.type != "oci" && $0.type != "docker" && $0.covers(package)
        }
    }
}

/// An OpenVEX file harden cannot use: where, what, and what to do.
public struct VEXError: Error, Sendable, CustomStringConvertible {
    public var location: String
    public var message: String
    public var hint: String

    init(_ location: String, _ message: String, hint: String = OpenVEX.readHint) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(location): \(message)\n  hint: \(hint)" }
}

extension OpenVEX {
    static let readHint =
        "--vex takes OpenVEX 0.2.0 JSON documents (as harden vex or vexctl write them): fix the file or write it again"

    /// The statements of every file, in the order given.
    public static func load(_ paths: [String]) throws(VEXError) -> [VEXStatement] {
        var statements: [VEXStatement] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw VEXError(path, "cannot be read", hint: "check the path given to --vex")
            }
            statements += try read(data, file: path, firstPosition: statements.count)
        }
        return statements
    }

    /// The statements of one OpenVEX document; `file` names it in errors and sources.
    public static func read(_ data: Data, file: String, firstPosition: Int = 0) throws(VEXError) -> [VEXStatement] {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, file: file)
        } catch {
            throw VEXError(file, "cannot be read as OpenVEX: \(error)")
        }
        guard document.context.hasPrefix("https://openvex.dev/ns") else {
            throw VEXError("\(file): @context", "is '\(document.context)', not OpenVEX's (\(context))")
        }
        guard !document.statements.isEmpty else {
            throw VEXError("\(file): statements", "is empty: an OpenVEX document has at least one statement")
        }
        let issued = try date(document.timestamp, at: "\(file): timestamp")
        var statements: [VEXStatement] = []
        for (index, statement) in document.statements.enumerated() {
            let at = "\(file): statements[\(index)]"
            if statement.status == .notAffected, statement.justification == nil, statement.impactStatement == nil {
                throw VEXError(at, "is not_affected with neither a justification nor an impact_statement (OpenVEX needs one)")
            }
            var when = (text: document.timestamp, date: issued)
            for (key, value) in [("timestamp", statement.timestamp), ("last_updated", statement.lastUpdated)] {
                if let value { when = (value, try date(value, at: "\(at).\(key)")) }
            }
            var resolved = VEXStatement(
                source: at, vulnerability: statement.vulnerability.name, aliases: statement.vulnerability.aliases ?? [],
                status: statement.status, justification: statement.justification,
                reason: statement.impactStatement ?? statement.statusNotes, timestamp: when.text,
                products: statement.products ?? [])
            resolved.date = when.date
            resolved.position = firstPosition + index
            statements.append(resolved)
        }
        return statements
    }

    /// An RFC 3339 date-time, with or without fractional seconds.
    static func date(_ text: String, at location: String) throws(VEXError) -> Date {
        for style in [Date.ISO8601FormatStyle(), Date.ISO8601FormatStyle(includingFractionalSeconds: true)] {
            if let date = try? style.parse(text) { return date }
        }
        throw VEXError(location, "'\(text)' is not an RFC 3339 date-time (e.g. 2024-05-01T10:00:00Z)")
    }

    /// A decoding error as `file: statements[2].status: what is wrong`.
    static func describe(_ error: DecodingError, file: String) -> VEXError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { path, key in
                key.intValue.map { "\(path)[\($0)]" } ?? (path.isEmpty ? key.stringValue : "\(path).\(key.stringValue)")
            }
        }
        func at(_ keys: [any CodingKey]) -> String { keys.isEmpty ? file : "\(file): \(path(keys))" }
        switch error {
        case .keyNotFound(let key, let context):
            return VEXError(at(context.codingPath + [key]), "is missing")
        case .valueNotFound(_, let context):
            return VEXError(at(context.codingPath), "is null")
        case .typeMismatch(_, let context):
            return VEXError(at(context.codingPath), context.debugDescription)
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let cause = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return VEXError(file, "is not JSON" + (cause.map { ": \($0)" } ?? ""))
        case .dataCorrupted(let context):
            return VEXError(at(context.codingPath), context.debugDescription)
        @unknown default:
            return VEXError(file, "cannot be read as OpenVEX: \(error)")
        }
    }
}
