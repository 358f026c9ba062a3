import Foundation
import HardenTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Pushes tiny OCI images (one config blob, one layer blob, a manifest) with the Registry API, as `docker push` would.
struct ImagePusher {
    let registry: URL
    /// The `Authorization` header value for the pushes, if the registry asks for one.
    var authorization: String?

    /// Pushes an image whose blobs carry `label`, tags it, and returns the manifest bytes and their digest.
    func push(repository: String, tag: String, label: String) async throws -> (manifest: Data, digest: String) {
        let layer = Data("layer \(label)\n".utf8)
        let layerDigest = try sha256Digest(layer)
        let config = try json([
            "architecture": "amd64", "os": "linux", "config": ["Labels": ["label": label]],
            "rootfs": ["type": "layers", "diff_ids": [layerDigest]],
        ])
        let configDigest = try sha256Digest(config)
        try await upload(layer, digest: layerDigest, repository: repository)
        try await upload(config, digest: configDigest, repository: repository)

        let manifest = try json([
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": [
                "mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": config.count,
            ],
            "layers": [["mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layer.count]],
        ])
        var request = URLRequest(url: registry.appendingPathComponent("v2/\(repository)/manifests/\(tag)"))
        request.httpMethod = "PUT"
        request.setValue("application/vnd.oci.image.manifest.v1+json", forHTTPHeaderField: "Content-Type")
        request.httpBody = manifest
        try await send(request, expecting: 201)
        return (manifest, try sha256Digest(manifest))
    }

    /// A monolithic blob upload: POST for an upload location, then PUT the bytes with `?digest=`.
    private func upload(_ blob: Data, digest: String, repository: String) async throws {
        var start = URLRequest(url: registry.appendingPathComponent("v2/\(repository)/blobs/uploads/"))
        start.httpMethod = "POST"
        let started = try await send(start, expecting: 202)
        guard let location = started.value(forHTTPHeaderField: "Location"),
            let uploadURL = URL(string: location, relativeTo: registry),
            var components = URLComponents(url: uploadURL, resolvingAgainstBaseURL: true)
        else { throw TestSetupError("upload to \(repository) gave no usable Location") }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "digest", value: digest)]
        guard let putURL = components.url else { throw TestSetupError("cannot add ?digest= to \(location)") }
        var put = URLRequest(url: putURL)
        put.httpMethod = "PUT"
        put.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        put.httpBody = blob
        try await send(put, expecting: 201)
    }

    @discardableResult
    private func send(_ request: URLRequest, expecting status: Int) async throws -> HTTPURLResponse {
        var request = request
        request.timeoutInterval = 10
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == status else {
            let code = (response as? HTTPURLResponse)?.statusCode ?? 0
            throw TestSetupError(
                "\(request.httpMethod ?? "") \(request.url?.absoluteString ?? "") answered \(code), not \(status): "
                    + String(decoding: data, as: UTF8.self))
        }
        return http
    }

    private func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
