import Foundation
import HardenImage

extension OpenVEX {
    /// The OpenVEX 0.2.0 document of one scan report, as JSON bytes: the same input always
    /// gives the same bytes (statements sorted, `@id` the sha256 of the content, `timestamp`
    /// the date given). Nil when there is nothing to state (no findings and nothing fixed), or
    /// when `product` has neither a manifest digest nor an image ID to name the image by.
    ///
    /// - A finding the gate ignored → `not_affected`, with the ignore's reason as
    ///   `impact_statement` and its `justification`; one that a VEX statement said `fixed` →
    ///   `fixed`. Ignores that give neither reason nor justification are left out (see
    ///   `unstated(in:)`): OpenVEX needs one, and harden does not invent it.
    /// - Any other finding → `affected`, with the update to make, or that no fix is known.
    /// - A finding of `previous` (the scan of the build before) that this report no longer
    ///   has (same vulnerability and package) → `fixed`.
    ///
    /// Each statement names the image by manifest digest (`pkg:oci/…`) and by image ID
    /// (`pkg:docker/…`), whichever `product` knows, with the package's purl as subcomponent.
    public static func document(
        for report: ScanReport, product: ImageIdentity, author: String, timestamp: Date,
        previous: [HardenScan.Vulnerability] = [], tooling: String? = nil
    ) -> Data? {
        let statements = statements(for: report, product: product, previous: previous)
        guard !statements.isEmpty, !product.digests.isEmpty else { return nil }
        var document = Document(
            context: context, id: "", author: author, timestamp: timestamp.formatted(.iso8601), version: 1, tooling: tooling,
            statements: statements)
        document.id = "urn:harden:vex:\(Digest.sha256(encode(document)))"
        return encode(document)
    }

    /// The ignored findings `document(for:…)` leaves out: their ignore gives no reason and no justification.
    public static func unstated(in report: ScanReport) -> [JudgedFinding] {
        report.findings.filter { $0.verdict == .ignored && $0.reason == nil && $0.justification == nil }
    }

    static func statements(for report: ScanReport, product: ImageIdentity, previous: [HardenScan.Vulnerability])
        -> [Statement]
    {
        func subcomponents(_ purl: String?) -> [Component]? {
            purl.map { [Component(id: $0, identifiers: Identifiers(purl: $0))] }
        }
        var statements: [Statement] = []
        for judged in report.findings {
            let finding = judged.vulnerability
            let products = product.components(subcomponents: subcomponents(PackageURL.of(finding)))
            var statement = Statement(vulnerability: vulnerability(finding), products: products, status: .affected)
            switch judged.verdict {
            case .ignored where judged.vexStatus == .fixed:
                statement.status = .fixed
                statement.statusNotes = judged.reason
            case .ignored:
                guard judged.reason != nil || judged.justification != nil else { continue }
                statement.status = .notAffected
                statement.justification = judged.justification
                statement.impactStatement = judged.reason
            case .fails, .reported, .unfixed:
                statement.actionStatement =
                    finding.fixedVersion.map { "Update \(finding.package) from \(finding.version) to \($0) or later." }
                    ?? "No fixed version of \(finding.package) is known yet (\(finding.version) is installed); rebuild when one is published."
            }
            statements.append(statement)
        }
        let present = Set(report.findings.map { key($0.vulnerability) })
        for finding in previous where !present.contains(key(finding)) {
            var statement = Statement(
                vulnerability: vulnerability(finding),
                products: product.components(subcomponents: subcomponents(PackageURL.of(finding).map(PackageURL.withoutVersion))),
                status: .fixed)
            statement.statusNotes = "\(finding.package) \(finding.version) had it in the previous build; this one does not."
            statements.append(statement)
        }
        // Sorted by vulnerability, package and status; the same statement once.
        let keyed = statements.map { statement in
            let package = statement.products?.first?.subcomponents?.first?.id ?? ""
            return (key: [statement.vulnerability.name, package, statement.status.rawValue], bytes: encode(statement), statement)
        }
        var seen = Set<Data>()
        return keyed.sorted { a, b in
            a.key != b.key ? a.key.lexicographicallyPrecedes(b.key) : a.bytes.lexicographicallyPrecedes(b.bytes)
        }.filter { seen.insert($0.bytes).inserted }.map(\.2)
    }

    /// The finding's CVE as the name (as reports show it), its other IDs as aliases.
    static func vulnerability(_ finding: HardenScan.Vulnerability) -> Vulnerability {
        let name = finding.primaryID
        let aliases = Set([finding.id] + finding.aliases).subtracting([name]).sorted()
        return Vulnerability(name: name, aliases: aliases.isEmpty ? nil : aliases)
    }

    /// The same vulnerability in the same package, in any version.
    static func key(_ finding: HardenScan.Vulnerability) -> String {
        [finding.primaryID, finding.ecosystem, Package.normalizePython(finding.package)].joined(separator: "\u{0}")
    }

    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data()
    }
}
