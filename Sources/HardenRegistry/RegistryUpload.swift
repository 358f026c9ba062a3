import Foundation
import HardenHTTP

/// The push half of the Registry API v2: blobs asked for, uploaded whole, and a manifest put
/// under a tag as the exact bytes given.
extension RegistryClient {
    /// Whether the repository already holds the blob (`HEAD /v2/<repo>/blobs/<digest>`).
    public func hasBlob(_ digest: String, in reference: ImageReference) async throws(RegistryError) -> Bool {
        let url = try endpoint(reference, "blobs/\(digest)")
        let answer = try await send(HTTPRequest("HEAD", url), for: reference, actions: "pull,push", about: "blob \(digest)")
        switch answer.status {
        case 200: return true
        case 404: return false
        default: throw failure(answer, step: "asking for blob \(digest)", reference)
        }
    }

    /// Asks the registry to link a blob it already holds in `repository` into the reference's
    /// repository (a cross-repository mount), without sending it. False when it will not: the
    /// upload it opened instead is cancelled.
    public func mountBlob(_ digest: String, from repository: String, to reference: ImageReference) async throws(RegistryError)
        -> Bool
    {
        let from =
            repository.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "="])) ?? repository
        let url = try endpoint(reference, "blobs/uploads/?mount=\(digest)&from=\(from)")
        var post = HTTPRequest("POST", url)
        post.followRedirects = false
        let answer = try await send(post, for: reference, actions: "pull,push", about: "a mount of \(digest)")
        switch answer.status {
        case 201: return true
        case 202:
            if let location = answer.header("Location"), let opened = URL(string: location, relativeTo: url)?.absoluteURL {
                _ = try? await send(HTTPRequest("DELETE", opened), for: reference, actions: "pull,push", about: "an upload")
            }
            return false
        default: throw failure(answer, step: "mounting blob \(digest) from \(repository)", reference)
        }
    }

    /// Uploads a blob in one request: `POST /v2/<repo>/blobs/uploads/`, then `PUT` of the whole
    /// file to the upload's location with its digest; the registry checks the digest.
    public func uploadBlob(
        _ digest: String, size: Int64, file: String, to reference: ImageReference
    ) async throws(RegistryError) {
        try await uploadBlob(digest, size: size, body: .file(path: file, size: size), to: reference)
    }

    /// Uploads a small blob held in memory (a signature bundle, an empty config).
    public func uploadBlob(_ digest: String, bytes: Data, to reference: ImageReference) async throws(RegistryError) {
        try await uploadBlob(digest, size: Int64(bytes.count), body: .bytes(bytes), to: reference)
    }

    private func uploadBlob(
        _ digest: String, size: Int64, body: HTTPRequest.Body, to reference: ImageReference
    ) async throws(RegistryError) {
        let start = try endpoint(reference, "blobs/uploads/")
        var post = HTTPRequest("POST", start)
        post.followRedirects = false
        let opened = try await send(post, for: reference, actions: "pull,push", about: "an upload")
        guard opened.status == 202, let location = opened.header("Location"),
            let resolved = URL(string: location, relativeTo: start)?.absoluteString
        else {
            throw failure(opened, step: "starting the upload of blob \(digest)", reference)
        }
        // Appended as text: the location's own query (the upload's state) is sent back untouched.
        guard let target = URL(string: resolved + (resolved.contains("?") ? "&" : "?") + "digest=" + digest) else {
            throw RegistryError(.unexpectedResponse, "\(reference.apiHost) gave an unusable upload location: \(location)")
        }
        var put = HTTPRequest("PUT", target)
        put.headers = [("Content-Type", "application/octet-stream"), ("Content-Length", String(size))]
        put.body = body
        put.followRedirects = false
        // Any size on any link: only a while without progress gives up.
        put.stallSeconds = uploadStallSeconds
        // A location on another server gets no credentials: they are the registry's.
        let sameServer = target.scheme == start.scheme && target.host == start.host && target.port == start.port
        let stored =
            sameServer
            ? try await send(put, for: reference, actions: "pull,push", about: "blob \(digest)")
            : try await exchange(put, authorization: nil, about: "blob \(digest)")
        guard stored.status == 201 else { throw failure(stored, step: "uploading blob \(digest)", reference) }
    }

    /// Puts `manifest` under the reference's tag as these exact bytes; returns the digest the
    /// registry says it stored it under (`Docker-Content-Digest`).
    public func putManifest(
        _ manifest: Data, mediaType: String, to reference: ImageReference
    ) async throws(RegistryError) -> String? {
        var put = HTTPRequest("PUT", try endpoint(reference, "manifests/\(reference.manifestReference)"))
        put.headers = [("Content-Type", mediaType)]
        put.body = .bytes(manifest)
        put.followRedirects = false
        let answer = try await send(put, for: reference, actions: "pull,push", about: "the manifest of \(reference)")
        guard answer.status == 201 else { throw failure(answer, step: "putting the manifest of \(reference)", reference) }
        return answer.header("Docker-Content-Digest")
    }

    func endpoint(_ reference: ImageReference, _ path: String) throws(RegistryError) -> URL {
        let address = "\(scheme(for: reference.registry))://\(reference.apiHost)/v2/\(reference.repository)/\(path)"
        guard let url = URL(string: address) else {
            throw RegistryError(.invalidReference, "cannot make a URL for \(reference) from \(address)")
        }
        return url
    }

    /// A refused or unexpected answer, naming the step and the registry's own error codes.
    func failure(_ answer: HTTPAnswer, step: String, _ reference: ImageReference) -> RegistryError {
        let said = Self.registryErrors(answer.body)
        let where_ = "\(reference.apiHost) (\(reference.repository))"
        switch answer.status {
        case 300..<400:
            return RegistryError(
                .unexpectedResponse,
                "\(where_) redirected \(step) to \(answer.header("Location") ?? "no location") (HTTP \(answer.status)); "
                    + "harden sends an image only to the registry it names",
                hint: "push to the registry that stores the image, not one that redirects uploads elsewhere")
        case 401, 403:
            return RegistryError(
                .credentialsRefused, "\(where_) refused \(step) (HTTP \(answer.status)\(said))",
                hint: "check that the login in the docker config may push to \(reference.registry)/\(reference.repository)")
        case 404:
            return RegistryError(
                .notFound, "\(where_) answered 404 to \(step)\(said)",
                hint: "check the repository name and that the registry accepts pushes")
        default:
            return RegistryError(
                .unexpectedResponse, "\(where_) answered HTTP \(answer.status) to \(step)\(said)",
                hint: "run the push again: blobs the registry already has are not sent twice")
        }
    }

    /// `: CODE message; …` from the Registry API's error body, or "".
    private static func registryErrors(_ body: Data) -> String {
        struct Answer: Decodable {
            struct Item: Decodable {
                let code: String?
                let message: String?
            }
            let errors: [Item]?
        }
        guard let items = (try? JSONDecoder().decode(Answer.self, from: body))?.errors, !items.isEmpty else { return "" }
        return ": " + items.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: " ") }.joined(separator: "; ")
    }
}
