import Foundation
import HardenHTTP

/// The push half of the Registry API v2: blobs asked for, uploaded whole or in chunks, and a manifest put
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
        let answer = try await send(
            post, for: reference, actions: "pull,push", pulling: repository, about: "a mount of \(digest)")
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

    /// Uploads a blob: `POST /v2/<repo>/blobs/uploads/`, then the file to the upload's location
    /// (`offset`: where the blob starts in it, a tar member read in place) and a `PUT` with its
    /// digest, which the registry checks. Up to the chunk size in one `PUT`; larger blobs in
    /// `PATCH` chunks with their `Content-Range`, each to the location the last answer gave.
    public func uploadBlob(
        _ digest: String, size: Int64, file: String, offset: Int64 = 0, to reference: ImageReference
    ) async throws(RegistryError) {
        try await uploadBlob(digest, size: size, body: .file(path: file, offset: offset, size: size), to: reference)
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
        guard opened.status == 202, var location = uploadLocation(opened, relativeTo: start) else {
            throw failure(opened, step: "starting the upload of blob \(digest)", reference)
        }
        var last = body
        if case .file(let path, let offset, _) = body {
            // OCI-Chunk-Min-Length: the smallest chunk this registry takes.
            let chunk = max(uploadChunkSize, opened.header("OCI-Chunk-Min-Length").flatMap { Int64($0) } ?? 0)
            if size > chunk {
                var sent: Int64 = 0
                while size - sent > chunk {
                    location = try await sendChunk(
                        .file(path: path, offset: offset + sent, size: chunk), at: sent, of: digest, to: location,
                        start: start, reference)
                    sent += chunk
                }
                last = .file(path: path, offset: offset + sent, size: size - sent)
            }
        }
        try await finishUpload(digest, with: last, at: location, start: start, reference)
    }

    /// The upload's location from a 202, resolved against the URL asked.
    private func uploadLocation(_ answer: HTTPAnswer, relativeTo url: URL) -> URL? {
        answer.header("Location").flatMap { URL(string: $0, relativeTo: url)?.absoluteURL }
    }

    /// Sends one `PATCH` chunk starting `at` that byte of the blob; returns where the next goes.
    private func sendChunk(
        _ chunk: HTTPRequest.Body, at first: Int64, of digest: String, to location: URL, start: URL,
        _ reference: ImageReference
    ) async throws(RegistryError) -> URL {
        guard case .file(_, _, let size) = chunk else { return location }
        var patch = HTTPRequest("PATCH", location)
        patch.headers = [
            ("Content-Type", "application/octet-stream"), ("Content-Length", String(size)),
            ("Content-Range", "\(first)-\(first + size - 1)"),
        ]
        patch.body = chunk
        patch.followRedirects = false
        patch.stallSeconds = uploadStallSeconds
        let step = "uploading bytes \(first)-\(first + size - 1) of blob \(digest)"
        let answer = try await sendToUpload(patch, at: location, start: start, about: "blob \(digest)", reference)
        guard answer.status == 202, let next = uploadLocation(answer, relativeTo: location) else {
            throw failure(answer, step: step, reference)
        }
        return next
    }

    /// The `PUT` that ends an upload with the blob's digest, carrying the blob's last bytes (or all of it).
    private func finishUpload(
        _ digest: String, with body: HTTPRequest.Body, at location: URL, start: URL, _ reference: ImageReference
    ) async throws(RegistryError) {
        // Appended as text: the location's own query (the upload's state) is sent back untouched.
        let resolved = location.absoluteString
        guard let target = URL(string: resolved + (resolved.contains("?") ? "&" : "?") + "digest=" + digest) else {
            throw RegistryError(.unexpectedResponse, "\(reference.apiHost) gave an unusable upload location: \(resolved)")
        }
        let size: Int64 =
            switch body {
            case .bytes(let data): Int64(data.count)
            case .file(_, _, let size): size
            }
        var put = HTTPRequest("PUT", target)
        put.headers = [("Content-Type", "application/octet-stream"), ("Content-Length", String(size))]
        put.body = body
        put.followRedirects = false
        // Any size on any link: only a while without progress gives up.
        put.stallSeconds = uploadStallSeconds
        let stored = try await sendToUpload(put, at: target, start: start, about: "blob \(digest)", reference)
        guard stored.status == 201 else { throw failure(stored, step: "uploading blob \(digest)", reference) }
    }

    /// A request to an upload's location: with the registry's credentials on its own server,
    /// with none on another (a storage backend the registry handed the upload to).
    private func sendToUpload(
        _ request: HTTPRequest, at url: URL, start: URL, about: String, _ reference: ImageReference
    ) async throws(RegistryError) -> HTTPAnswer {
        let sameServer = url.scheme == start.scheme && url.host == start.host && url.port == start.port
        return sameServer
            ? try await send(request, for: reference, actions: "pull,push", about: about)
            : try await exchange(request, authorization: nil, about: about)
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
