import Foundation
import HardenArchive
import HardenImage
import HardenTestSupport

/// Edits an OCI layout on disk the way an attacker or a damaged disk would, keeping
/// the documents above the edit consistent unless asked not to.
struct LayoutEditor {
    let root: URL

    init(_ path: String) { root = URL(fileURLWithPath: path) }

    func blobURL(_ digest: String) -> URL {
        root.appendingPathComponent("blobs/sha256/" + digest.replacingOccurrences(of: "sha256:", with: ""))
    }

    func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    func write(_ object: Any, to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
    }

    var index: [String: Any] { get throws { try json(root.appendingPathComponent("index.json")) } }

    func setIndex(_ index: [String: Any]) throws { try write(index, to: root.appendingPathComponent("index.json")) }

    var manifestDigest: String { get throws { ((try index["manifests"] as! [[String: Any]])[0]["digest"] as! String) } }

    var manifest: [String: Any] { get throws { try json(blobURL(try manifestDigest)) } }

    var layers: [[String: Any]] { get throws { try manifest["layers"] as! [[String: Any]] } }

    /// Stores `data` as a blob and returns its digest.
    @discardableResult
    func addBlob(_ data: Data) throws -> String {
        let digest = Digest.sha256(data).description
        try data.write(to: blobURL(digest))
        return digest
    }

    /// Replaces the manifest with `edit(manifest)`, re-hashed, and points index.json at it.
    func editManifest(_ edit: (inout [String: Any]) throws -> Void) throws {
        var manifest = try manifest
        try edit(&manifest)
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
        let digest = try addBlob(data)
        var index = try index
        var descriptors = index["manifests"] as! [[String: Any]]
        descriptors[0]["digest"] = digest
        descriptors[0]["size"] = data.count
        index["manifests"] = descriptors
        try setIndex(index)
    }

    /// Replaces layer `position`'s blob with `data`; the manifest's descriptor follows when `updateDescriptor`.
    func replaceLayer(_ position: Int, with data: Data, updateDescriptor: Bool) throws {
        let old = try layers[position]["digest"] as! String
        if updateDescriptor {
            let digest = try addBlob(data)
            try editManifest { manifest in
                var layers = manifest["layers"] as! [[String: Any]]
                layers[position]["digest"] = digest
                layers[position]["size"] = data.count
                manifest["layers"] = layers
            }
        } else {
            try data.write(to: blobURL(old))
        }
    }

    func layerData(_ position: Int) throws -> Data {
        try Data(contentsOf: blobURL(try layers[position]["digest"] as! String))
    }
}

/// Reads `path` and returns the error's text, or nil when it read cleanly.
func readError(_ path: String, limits: ImageLimits = ImageLimits(), platform: Platform = .current) -> String? {
    do {
        _ = try ImageReader(limits: limits, platform: platform).read(path)
        return nil
    } catch {
        return error.description
    }
}

/// A one-layer image of `entries`, read whole.
func view(_ images: TestImages, _ layers: [[(ArchiveEntry, Data)]]) throws -> FileSystemView {
    try ImageReader().read(try images.image(layers)).filesystem
}
