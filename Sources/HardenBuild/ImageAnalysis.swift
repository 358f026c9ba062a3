import Foundation
import HardenConcurrency
import HardenEngine
import HardenImage
import HardenPlan
import HardenRecipe
import HardenScan
import HardenVerify

/// An image read for its packages: all that scanning and SBOMs need.
public struct CataloguedImage: Sendable {
    public var contents: ImageContents
    public var catalog: Catalog

    public var diffIDs: [String] { contents.image.layers.map(\.diffID.description) }

    /// Reads the image at `path` (any form harden reads), capturing only package databases.
    public static func read(
        path: String, limits: ImageLimits = ImageLimits(), platform: Platform = .current
    ) throws(ImageError) -> CataloguedImage {
        let contents = try ImageReader(limits: limits, platform: platform, capture: PackageDatabases.wanted).read(path)
        return CataloguedImage(contents: contents, catalog: Cataloger.catalog(contents))
    }
}

/// An image read once for both jobs: the verifier's report and the package catalog.
public struct ImageAnalysis: Sendable {
    public var catalogued: CataloguedImage
    public var verification: VerifyReport

    public var contents: ImageContents { catalogued.contents }
    public var catalog: Catalog { catalogued.catalog }

    /// Reads the image at `path` (any form harden reads), capturing what both need in one pass.
    public static func analyze(
        path: String, policy: Policy = Policy(), limits: ImageLimits = ImageLimits(), platform: Platform = .current
    ) throws(ImageError) -> ImageAnalysis {
        let reader = ImageReader(limits: limits, platform: platform) { path in
            Verifier.capturedPaths.contains(path) || PackageDatabases.wanted(path)
        }
        let contents = try reader.read(path)
        // Both only read the finished view: verify and catalogue side by side.
        let verification = ParallelResults<VerifyReport>(count: 1)
        let catalog = ParallelResults<Catalog>(count: 1)
        DispatchQueue.concurrentPerform(iterations: 2) { job in
            if job == 0 {
                verification[0] = Verifier(policy: policy).verify(contents)
            } else {
                catalog[0] = Cataloger.catalog(contents)
            }
        }
        return ImageAnalysis(
            catalogued: CataloguedImage(contents: contents, catalog: catalog.values[0] ?? Cataloger.catalog(contents)),
            verification: verification.values[0] ?? Verifier(policy: policy).verify(contents))
    }
}
