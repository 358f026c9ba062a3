import Foundation
import HardenImage
import HardenRecipe
import HardenScan
import HardenVerify

/// An image read once for both jobs: the verifier's report and the package catalog.
public struct ImageAnalysis: Sendable {
    public var contents: ImageContents
    public var verification: VerifyReport
    public var catalog: Catalog

    public var diffIDs: [String] { contents.image.layers.map(\.diffID.description) }

    /// Reads the image at `path` (any form harden reads), capturing what both need in one pass.
    public static func analyze(
        path: String, policy: Policy = Policy(), limits: ImageLimits = ImageLimits(), platform: Platform = .current
    ) throws(ImageError) -> ImageAnalysis {
        let reader = ImageReader(limits: limits, platform: platform) { path in
            Verifier.capturedPaths.contains(path) || PackageDatabases.wanted(path)
        }
        let contents = try reader.read(path)
        return ImageAnalysis(
            contents: contents, verification: Verifier(policy: policy).verify(contents), catalog: Cataloger.catalog(contents))
    }
}
