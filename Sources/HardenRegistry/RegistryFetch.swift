import Crypto
import Foundation
import HardenHTTP

/// A manifest as the registry served it: its bytes, media type and digest.
public struct FetchedManifest: Sendable, Equatable {
    public var bytes: Data
    public var mediaType: String
    /// `sha256:` of the bytes, computed here.
    public var digest: String
}

/// The pull half of the Registry API v2 that signatures need: manifests and small blobs read
/// whole and checked against their digests, and the referrers API.
extension RegistryClient {
    /// The manifest the reference names, or nil when the registry has none (404). A manifest asked
    /// by digest must have that digest.
    public func fetchManifest(_ reference: ImageReference) async throws(RegistryError) -> FetchedManifest? {
        var request = HTTPRequest("GET", try endpoint(reference, "manifests/\(reference.manifestReference)"))
        request.headers.append(("Accept", Self.acceptedMediaTypes.joined(separator: ", ")))
        let answer = try await send(request, for: reference, actions: "pull", about: "the manifest of \(reference)")
        switch answer.status {
        case 200: break
        case 404: return nil
        default: throw failure(answer, step: "fetching the manifest \(reference.manifestReference)", reference)
        }
        let digest = Self.sha256(answer.body)
        if reference.tag == nil, let pinned = reference.digest, pinned != digest {
            throw RegistryError(
                .unexpectedResponse,
                "\(reference.apiHost) (\(reference.repository)) served \(digest) when asked for the manifest \(pinned)",
                hint: "the registry or a proxy in between altered the manifest; do not trust this registry's answers")
        }
        return FetchedManifest(
            bytes: answer.body, mediaType: answer.header("Content-Type") ?? "application/vnd.oci.image.manifest.v1+json",
            digest: digest)
    }

    /// A blob read whole (at most the transport's 16 MiB), checked against its digest.
    public func fetchBlob(_ digest: String, in reference: ImageReference) async throws(RegistryError) -> Data {
        let request = HTTPRequest("GET", try endpoint(reference, "blobs/\(digest)"))
        let answer = try await send(request, for: reference, actions: "pull", about: "blob \(digest)")
        guard answer.status == 200 else { throw failure(answer, step: "fetching blob \(digest)", reference) }
        let served = Self.sha256(answer.body)
        guard served == digest else {
            throw RegistryError(
                .unexpectedResponse,
                "\(reference.apiHost) (\(reference.repository)) served \(served) when asked for blob \(digest)",
                hint: "the registry's storage is damaged or something in between altered the blob")
        }
        return answer.body
    }

    /// The referrers API's image index for `digest` (`GET /v2/<repo>/referrers/<digest>`), or nil
    /// when the registry does not offer the API (404): then the `sha256-<hex>` tag stands in.
    public func referrers(of digest: String, in reference: ImageReference) async throws(RegistryError) -> Data? {
        var request = HTTPRequest("GET", try endpoint(reference, "referrers/\(digest)"))
        request.headers.append(("Accept", "application/vnd.oci.image.index.v1+json"))
        let answer = try await send(request, for: reference, actions: "pull", about: "the referrers of \(digest)")
        switch answer.status {
        case 200:
            // A registry that routes the path to something else answers 200 with another type.
            let type = answer.header("Content-Type") ?? ""
            return type.hasPrefix("application/vnd.oci.image.index.v1+json") ? answer.body : nil
        case 404: return nil
        default: throw failure(answer, step: "listing the referrers of \(digest)", reference)
        }
    }

    static func sha256(_ data: Data) -> String {
        "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
