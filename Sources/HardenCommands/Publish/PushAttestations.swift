import Foundation
import HardenBuild
import HardenHistory
import HardenImage
import HardenPublish
import HardenScan

/// The statements `harden push --attest` signs, made from the pushed layout and its build record.
enum PushAttestations {
    enum Kind: String, CaseIterable {
        /// CycloneDX 1.5 and SPDX 2.3, as `harden sbom` writes them.
        case sbom
        case provenance
        case vex
    }

    /// `sbom,provenance,vex` → kinds, in that order; an unknown name is an error naming the known ones.
    static func kinds(_ list: [String]) throws(PushError) -> [Kind] {
        var kinds: [Kind] = []
        for name in list.flatMap({ $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) where !name.isEmpty {
            guard let kind = Kind(rawValue: name) else {
                throw PushError(
                    "--attest \(name): not an attestation harden makes",
                    hint: "choose among \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return Kind.allCases.filter(kinds.contains)
    }

    static func make(
        _ kinds: [Kind], layout: String, build: BuildRecord?, repository: String, vex: (() throws -> Data?)?,
        catalogs: KeptCatalog
    ) throws(PushError) -> [Attestation] {
        var made: [Attestation] = []
        for kind in kinds {
            switch kind {
            case .sbom: made += try sboms(layout: layout, repository: repository, catalogs: catalogs)
            case .provenance: made.append(try provenance(build))
            case .vex:
                guard let vex else {
                    throw PushError(
                        "--attest vex needs the scan of a build", hint: "push a recipe by name after harden build scanned it")
                }
                let document: Data?
                do {
                    document = try vex()
                } catch {
                    throw PushError("cannot make the OpenVEX document from the build's scan report: \(error)")
                }
                if let document {
                    made.append(Attestation(name: "vex", predicateType: "https://openvex.dev/ns", predicate: document))
                } else {
                    Output.note("harden: the scan found nothing and nothing was fixed: no VEX attestation (OpenVEX needs a statement)")
                }
            }
        }
        return made
    }

    /// The OpenVEX document of a build's scan, for `--attest vex`, about the image as pushed
    /// (nil: the build kept no scan). The closure gives nil when there is nothing to state.
    static func vexDocument(for build: BuildRecord, image digest: String, repository: String) -> (() throws -> Data?)? {
        guard let path = build.scanReport else { return nil }
        return {
            let report = try ScanReport.read(path: path)
            let product = ImageIdentity(name: repository, manifestDigest: digest, imageID: build.runtimeImage)
            return OpenVEX.document(
                for: report, product: product, author: "harden", timestamp: build.finishedAt ?? build.startedAt,
                tooling: "harden \(Harden.version)")
        }
    }

    /// The SBOMs from the image's kept catalog (the build's, or an earlier push's), else from
    /// reading the image, whose catalog is then kept.
    private static func sboms(layout: String, repository: String, catalogs: KeptCatalog) throws(PushError) -> [Attestation] {
        let image: LocatedImage
        let catalog: Catalog
        do {
            image = try ImageLocator().locate(try ImageSource.open(layout))
            if let kept = catalogs.load(imageID: image.configDigest.description) {
                catalog = kept
            } else {
                catalog = try CataloguedImage.read(path: layout).catalog
                catalogs.keep(catalog, imageID: image.configDigest.description)
            }
        } catch {
            throw PushError("cannot catalog \(layout) for the SBOM: \(error.description)")
        }
        var subject = SBOMSubject(image, created: SbomCommand.created(image.config))
        subject.name = repository
        return [
            (SBOMWriter.Format.cyclonedx, "sbom-cyclonedx", "https://cyclonedx.org/bom"),
            (SBOMWriter.Format.spdx, "sbom-spdx", "https://spdx.dev/Document"),
        ].map { format, name, predicateType in
            Attestation(
                name: name, predicateType: predicateType,
                predicate: Data(
                    SBOMWriter.render(catalog, subject: subject, format: format, toolVersion: Harden.version).utf8))
        }
    }

    /// SLSA v1 from the build record: the recipe's and the context's hashed inputs, every base image.
    private static func provenance(_ build: BuildRecord?) throws(PushError) -> Attestation {
        guard let build, let id = build.id else {
            throw PushError(
                "--attest provenance needs the build record of the image",
                hint: "push a recipe by name (its last successful build), not a layout directory")
        }
        func digest(of prefix: String) -> String {
            let parts = build.inputParts.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
            let text = parts.map { "\($0.key)=\($0.value)\n" }.joined()
            return Digest.sha256(Data(text.utf8)).description
        }
        var dependencies: [BuildProvenance.Dependency] = []
        for (name, imageID) in build.baseImages {
            if let pinned = build.baseDigests[name] {
                dependencies.append(.init(name: name, uri: "docker-image://\(name)@\(pinned)", digest: pinned))
            } else {
                // A base made on this machine has no registry digest: its image ID is what was used.
                dependencies.append(.init(name: name, uri: "docker-image-id://\(name)", digest: imageID))
            }
        }
        dependencies.append(.init(name: "context", uri: nil, digest: digest(of: "context/")))
        let provenance = BuildProvenance(
            recipe: build.recipe, recipePath: "Recipes/\(build.recipe).yaml", recipeDigest: digest(of: "recipe."),
            inputDigest: build.inputDigest, dependencies: dependencies,
            builderID: "https://github.com/harden-build/harden@\(Harden.version)", invocationID: "harden-build-\(id)",
            startedOn: build.startedAt, finishedOn: build.finishedAt, hardenVersion: Harden.version)
        do {
            return Attestation(name: "provenance", predicateType: BuildProvenance.predicateType, predicate: try provenance.predicate())
        } catch {
            throw PushError("cannot encode the provenance of build \(id): \(error)")
        }
    }
}
