import Foundation
import HardenBuild
import HardenHistory
import HardenPublish
import HardenRecipe
import HardenRegistry
import HardenSigning

/// Pushing an image as itself and signing it: the one flow behind `push`, `build --push` and
/// `rebuild --due` for recipes with `publish:`.
struct Publishing {
    var directory: StateDirectory
    var history: (any HistoryStore)?
    var insecureRegistries: [String]

    /// What to sign with and attach.
    struct Signing {
        var key: SigningKey
        var attest: [PushAttestations.Kind]
        var legacy: Bool
    }

    /// Pushes the layout to `destination` (`registry/repository:tag`), signs it when asked, and
    /// records the push in the history only once all of it is done.
    func publish(
        layout: String, build: BuildRecord?, to destination: String, signing: Signing?
    ) async throws(PushError) -> PushResult {
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: destination)
        } catch {
            throw PushError(error.message, hint: error.hint)
        }
        // The reference grammar reads a name without a tag as :latest; a push names its tag.
        let name = destination.split(separator: "/").last.map(String.init) ?? destination
        guard reference.digest == nil, name.contains(":") else {
            throw PushError("\(destination): name the tag to push to, and no digest", hint: "write it as registry/repository:tag")
        }
        let image = try PushableImage.read(layout)
        if image.manifestComposed {
            Output.note(
                "harden: \(layout) is a docker-archive with no manifest of its own: pushed with an OCI manifest "
                    + "harden wrote (its config and uncompressed layers as they are), \(image.digest)")
        }
        let attestations = try PushAttestations.make(
            signing?.attest ?? [], layout: layout, build: build, repository: reference.name,
            vex: build.flatMap { PushAttestations.vexDocument(for: $0, image: image.digest, repository: reference.name) },
            catalogs: KeptCatalog(state: directory))
        // Repositories of that registry harden pushed to before may hold the blobs: mounted, not sent.
        var seen: Set<String> = []
        let pushed = (try? await history?.pushes(recipe: nil, registry: reference.registry, limit: 100)) ?? []
        let earlier = pushed.map(\.repository).filter { seen.insert($0).inserted }
        let client: RegistryClient
        do {
            client = RegistryClient(credentials: try DockerCredentials.load(), insecureRegistries: Set(insecureRegistries))
        } catch {
            throw PushError(error.message, hint: error.hint)
        }
        var result = try await ImagePush.push(image, to: reference, client: client, mountFrom: earlier) { Output.note($0) }
        if let signing {
            let subject = Referrer(mediaType: image.mediaType, digest: image.digest, size: Int64(image.manifest.count))
            do throws(PushError) {
                result.signatures = try await ImageSigning.sign(
                    subject, in: reference, key: signing.key, attestations: attestations, legacy: signing.legacy,
                    client: client
                ) { Output.note($0) }
            } catch {
                // Not recorded: a signed push was asked for, and it is not complete.
                throw PushError(
                    error.message,
                    hint: "\(reference) now holds the image \(image.digest) without all of its signatures; "
                        + "run the same push again: present blobs are not sent again and what is signed is kept")
            }
        }
        if let history {
            let push = PushRecord(
                build: build?.id, recipe: build?.recipe, registry: reference.registry, repository: reference.repository,
                tag: reference.tag ?? "", digest: result.manifestDigest, pushedAt: Date())
            do {
                try await history.recordPush(push)
            } catch {
                Output.note("harden: pushed, but the build history could not record it: \(error.description)")
            }
        }
        return result
    }

    /// Pushes the image of each recipe with `publish:` to each of its tags: the image just built,
    /// or with `upToDate`, also the last build of a recipe that needed none. A failure is kept
    /// on the outcome; the next recipe is still published.
    func publishBuilt(
        _ outcomes: inout [BuildOutcome], recipes: [String: Recipe], project: URL, upToDate: Bool
    ) async {
        for index in outcomes.indices {
            let outcome = outcomes[index]
            guard let publish = recipes[outcome.recipe]?.publish,
                outcome.status == .succeeded || (upToDate && outcome.status == .skipped && outcome.runtimeImage != nil)
            else { continue }
            do throws(PushError) {
                let build: BuildRecord?
                if outcome.status == .succeeded, let id = outcome.buildID {
                    build = try? await history?.build(id: id)
                } else {
                    build = (try? await history?.latestSucceeded())?[outcome.recipe]
                }
                guard let build, let image = build.runtimeImage else {
                    throw PushError("\(outcome.recipe): no successful build to publish")
                }
                let layout = outcome.ociLayout ?? directory.imageLayout(recipe: outcome.recipe, imageID: image).path
                let signing = try Self.signing(publish, project: project)
                var published: [String] = []
                for destination in publish.destinations {
                    Output.note("publish: \(outcome.recipe) → \(destination)")
                    let result = try await self.publish(layout: layout, build: build, to: destination, signing: signing)
                    published.append("\(destination)@\(result.manifestDigest)")
                }
                outcomes[index].published = published
            } catch {
                outcomes[index].publishError = error.description
            }
        }
    }

    /// The signing a recipe's `publish:` asks for; nil when it signs nothing.
    static func signing(_ publish: Publish, project: URL) throws(PushError) -> Signing? {
        guard let path = publish.signKey else { return nil }
        let resolved = path.hasPrefix("env:") || path.hasPrefix("/") ? path : project.appendingPathComponent(path).path
        do {
            let key = try SigningKeys.loadPrivate(resolved)
            return Signing(
                key: key, attest: publish.attest.compactMap { PushAttestations.Kind(rawValue: $0.rawValue) },
                legacy: publish.legacySignatures)
        } catch {
            throw PushError("publish.sign-key of recipe: \(error.description)")
        }
    }

    /// One line per push, as `push` prints it.
    static func describe(_ result: PushResult) -> [String] {
        var lines = [
            "pushed \(result.destination)@\(result.manifestDigest)",
            "  blobs: \(result.blobsSent) sent (\(result.bytesSent) bytes), \(result.blobsMounted) mounted from "
                + "another repository, \(result.blobsPresent) already there",
        ]
        for signature in result.signatures ?? [] {
            let how = signature.alreadyThere ? "already signed by this key" : "attached (\(signature.source))"
            let legacy = signature.legacyTag.map { ", tag \($0)" } ?? ""
            lines.append("  \(signature.name): \(signature.predicateType) \(how)\(legacy)")
        }
        return lines
    }

    /// The history `option` (or `$HARDEN_HISTORY`) names, else the state directory's when it has one.
    static func openHistory(_ option: String?, _ directory: StateDirectory) async throws(PushError) -> (any HistoryStore)? {
        do {
            return try await HistoryLocation.open(option, state: directory, onlyIfPresent: true)
        } catch {
            throw PushError("cannot open the build history: \(error.description)")
        }
    }
}
