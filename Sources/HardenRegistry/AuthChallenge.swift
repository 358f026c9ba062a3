import Foundation

/// The first challenge of a `WWW-Authenticate` header (RFC 7235), e.g.
/// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`.
struct AuthChallenge: Sendable, Equatable {
    /// The scheme in lowercase: `bearer` or `basic`.
    let scheme: String
    /// Parameters by lowercased name, quoted values unescaped.
    let parameters: [String: String]

    init?(header: String) {
        var rest = header.drop(while: \.isWhitespace)
        let scheme = rest.prefix(while: { !$0.isWhitespace && $0 != "," })
        guard !scheme.isEmpty else { return nil }
        rest = rest.dropFirst(scheme.count)

        var parameters: [String: String] = [:]
        while true {
            rest = rest.drop(while: { $0.isWhitespace || $0 == "," })
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            // A name with a space in it starts the next challenge: stop at the first.
            if name.contains(" ") { break }
            rest = rest[rest.index(after: equals)...].drop(while: \.isWhitespace)
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.popFirst(), character != "\"" {
                    value.append(character == "\\" ? rest.popFirst() ?? character : character)
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            parameters[name] = value
        }
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }
}
