/// An image reference `[registry/]repository[:tag][@digest]`, read the way docker reads it
/// (the grammar of distribution's `reference` package).
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry as written, or `docker.io` when none was.
    public let registry: String
    /// The repository path, with `library/` added for single-component Docker Hub names.
    public let repository: String
    /// The tag; `latest` when neither a tag nor a digest was written.
    public let tag: String?
    /// The pinned manifest digest (`sha256:…`), if one was written.
    public let digest: String?

    /// Reads `name[:tag][@digest]`; throws a `RegistryError` with code `.invalidReference` naming what is wrong.
    public init(parsing text: String) throws(RegistryError) {
        func invalid(_ problem: String) -> RegistryError {
            RegistryError(
                .invalidReference, "invalid image reference '\(text)': \(problem)",
                hint: "write it as [registry/]repository[:tag][@sha256:digest], repository in lowercase")
        }
        guard !text.isEmpty else { throw invalid("it is empty") }

        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let written = String(rest[rest.index(after: at)...])
            guard Self.isDigest(written) else {
                throw invalid("'\(written)' is not a digest (sha256: and 64 lowercase hex digits, or sha512: and 128)")
            }
            digest = written
            rest = rest[..<at]
        }

        var tag: String?
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":") {
            let written = String(rest[rest.index(after: colon)...])
            guard Self.isTag(written) else {
                throw invalid("'\(written)' is not a tag (letters, digits, '_', '.', '-'; at most 128; no leading '.' or '-')")
            }
            tag = written
            rest = rest[..<colon]
        }

        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = Self.dockerHub
        if components.count > 1, let first = components.first, Self.looksLikeHost(first) {
            guard Self.isHost(first) else { throw invalid("'\(first)' is not a registry host[:port]") }
            registry = first
            components.removeFirst()
        }
        for component in components {
            if component.isEmpty { throw invalid("the repository has an empty path component") }
            if component.contains(where: \.isUppercase) { throw invalid("repository '\(component)' has uppercase letters") }
            guard Self.isPathComponent(component) else {
                throw invalid("'\(component)' is not a repository path component (a-z, 0-9, separated by '.', '_', '__' or '-')")
            }
        }
        if Self.isDockerHub(registry) && components.count == 1 {
            components.insert("library", at: 0)
        }
        let repository = components.joined(separator: "/")
        guard registry.count + 1 + repository.count <= 255 else { throw invalid("the name is longer than 255 characters") }

        self.registry = registry
        self.repository = repository
        self.tag = tag ?? (digest == nil ? "latest" : nil)
        self.digest = digest
    }

    /// The host the Registry API is served from: `registry-1.docker.io` for Docker Hub, else the registry.
    public var apiHost: String {
        Self.isDockerHub(registry) ? "registry-1.docker.io" : registry
    }

    /// What `/v2/<repository>/manifests/` is asked for: the tag, or the digest when there is no tag.
    public var manifestReference: String {
        tag ?? digest ?? "latest"
    }

    private init(registry: String, repository: String, tag: String?, digest: String?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// The same repository under another tag (`sha256-<hex>`, `<tag>.sig`), without a digest.
    public func tagged(_ tag: String) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: tag, digest: nil)
    }

    /// The same repository's manifest `digest`, without a tag.
    public func pinned(_ digest: String) -> ImageReference {
        ImageReference(registry: registry, repository: repository, tag: nil, digest: digest)
    }

    /// `registry/repository`: the repository without tag or digest, as signatures name it.
    public var name: String { "\(registry)/\(repository)" }

    /// The full form, `registry/repository[:tag][@digest]`.
    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    static let dockerHub = "docker.io"

    /// True for the names Docker Hub's registry goes by.
    static func isDockerHub(_ registry: String) -> Bool {
        ["docker.io", "index.docker.io", "registry-1.docker.io"].contains(registry)
    }

    /// Docker's rule: a first component with `.` or `:`, or `localhost`, names a registry.
    private static func looksLikeHost(_ component: String) -> Bool {
        component.contains(".") || component.contains(":") || component == "localhost"
    }

    /// `name[:port]` with dot-separated letter-digit-hyphen labels, or `[ipv6][:port]`.
    private static func isHost(_ text: String) -> Bool {
        func isPort(_ port: Substring) -> Bool { !port.isEmpty && port.allSatisfy(\.isASCIIDigit) }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return false }
            let address = text[text.index(after: text.startIndex)..<close]
            guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            let after = text[text.index(after: close)...]
            return after.isEmpty || (after.first == ":" && isPort(after.dropFirst()))
        }
        var name = Substring(text)
        if let colon = text.firstIndex(of: ":") {
            guard isPort(text[text.index(after: colon)...]) else { return false }
            name = text[..<colon]
        }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last else { return false }
            return first.isASCIILetterOrDigit && last.isASCIILetterOrDigit
                && label.allSatisfy { $0.isASCIILetterOrDigit || $0 == "-" }
        }
    }

    private static func isPathComponent(_ component: String) -> Bool {
        // Runs of a-z0-9 joined by one separator: ".", "_", "__" or one or more "-".
        var previous: Character?
        var separator = ""
        for character in component {
            if character.isASCIILowercaseOrDigit {
                if !separator.isEmpty {
                    guard [".", "_", "__"].contains(separator) || separator.allSatisfy({ $0 == "-" }) else { return false }
                    separator = ""
                }
            } else if ".-_".contains(character) {
                guard previous != nil else { return false }
                separator.append(character)
            } else {
                return false
            }
            previous = character
        }
        return separator.isEmpty && previous != nil
    }

    private static func isTag(_ tag: String) -> Bool {
        guard let first = tag.first, tag.count <= 128, first.isWordCharacter else { return false }
        return tag.allSatisfy { $0.isWordCharacter || $0 == "." || $0 == "-" }
    }

    private static func isDigest(_ digest: String) -> Bool {
        let parts = digest.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return false }
        let lengths = ["sha256": 64, "sha512": 128]
        guard let length = lengths[String(parts[0])] else { return false }
        return parts[1].count == length && parts[1].allSatisfy(\.isLowercaseHexDigit)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
    fileprivate var isASCIILowercaseOrDigit: Bool { isASCII && (isLowercase || isNumber) }
    fileprivate var isLowercaseHexDigit: Bool { isASCIIDigit || ("a"..."f").contains(self) }
    fileprivate var isWordCharacter: Bool { isASCIILetterOrDigit || self == "_" }
}
