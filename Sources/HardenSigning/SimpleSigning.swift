import Foundation

/// Cosign's simple-signing payload (SIGNATURE_SPEC.md), what a legacy `sha256-<hex>.sig` tag
/// signs: the image's manifest digest and the repository it was pushed to.
public enum SimpleSigning {
    public static let mediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    public static let type = "cosign container image signature"

    /// The payload, keys sorted: `{"critical":{"identity":…,"image":…,"type":…},"optional":null}`.
    public static func payload(dockerReference: String, manifestDigest: String) -> Data {
        // Written by hand so that `optional` is a JSON null, as cosign writes it.
        let critical: [String: Any] = [
            "identity": ["docker-reference": dockerReference],
            "image": ["docker-manifest-digest": manifestDigest],
            "type": type,
        ]
        let criticalJSON =
            (try? JSONSerialization.data(withJSONObject: critical, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var payload = Data(#"{"critical":"#.utf8)
        payload.append(criticalJSON)
        payload.append(Data(#","optional":null}"#.utf8))
        return payload
    }

    /// What a payload says: the digest and reference, when it is a simple-signing payload.
    public static func read(_ payload: Data) -> (manifestDigest: String, dockerReference: String)? {
        guard let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let critical = object["critical"] as? [String: Any], critical["type"] as? String == type,
            let digest = (critical["image"] as? [String: Any])?["docker-manifest-digest"] as? String,
            let reference = (critical["identity"] as? [String: Any])?["docker-reference"] as? String
        else { return nil }
        return (digest, reference)
    }
}
