import Foundation
import HardenArchive
import HardenEngine
import HardenHistory
import HardenImage
import HardenPlan
import HardenRecipe
import HardenScan
import HardenVerify

public struct BuildOptions: Sendable {
    public var jobs: Int
    public var noCache: Bool
    public var pull: Bool
    /// What asked for the build (`manual`, `schedule`, …), kept in the history.
    public var trigger: String
    /// OSV advisories for recipes whose `scan.scanners` has `builtin`.
    public var advisories: AdvisoryMatcher?
    /// Build a second time without cache and compare the normalized digests.
    public var checkReproducible: Bool
    /// Where `SOURCE_DATE_EPOCH` is looked up.
    public var environment: [String: String]
    /// Lookups already started; a recipe without one is looked up when its build starts.
    public var epochs: SourceDateEpochLookups?

    public init(
        jobs: Int = 1, noCache: Bool = false, pull: Bool = false, trigger: String = "manual", advisories: AdvisoryMatcher? = nil,
        checkReproducible: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment,
        epochs: SourceDateEpochLookups? = nil
    ) {
        self.epochs = epochs
        self.jobs = jobs
        self.noCache = noCache
        self.pull = pull
        self.trigger = trigger
        self.advisories = advisories
        self.checkReproducible = checkReproducible
        self.environment = environment
    }
}

/// What building the stages gave, filled in as each stage gets there.
struct StageResults {
    var builderImage: String?
    var builderLog: String?
    var builderSeconds: Double?
    var runtimeLog: String?
    var runtimeSeconds: Double?
}

extension BuildOutcome {
    /// The stages' logs, times and builder image (the runtime image recorded is the normalized one).
    mutating func record(_ stages: StageResults) {
        builderImage = stages.builderImage
        builderLog = stages.builderLog
        builderSeconds = stages.builderSeconds
        runtimeLog = stages.runtimeLog
        runtimeSeconds = stages.runtimeSeconds
    }
}

/// What `--check-reproducible` found: both builds' images, raw and normalized.
public struct ReproducibilityCheck: Sendable, Codable {
    public var identical: Bool
    public var rawImages: [String]
    public var images: [String]
    public var manifestDigests: [String]
    /// The second build's normalized archive, kept when it differs.
    public var secondArchive: String?
    /// The differences as `harden diff` shows them (capped).
    public var differences: String?
}

/// The result of one recipe in a `harden build` run.
public struct BuildOutcome: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case succeeded, skipped, failed, interrupted
    }
    public var recipe: String
    public var status: Status
    public var buildID: Int64?
    public var reasons: [String]
    public var builderImage: String?
    /// The normalized runtime image: the engine's ID for it and its config digest.
    public var runtimeImage: String?
    /// The runtime image as `docker build` made it, before normalization.
    public var rawRuntimeImage: String?
    /// The OCI manifest digest of the normalized image and the layout that holds it.
    public var manifestDigest: String?
    public var ociLayout: String?
    public var sourceDateEpoch: SourceDateEpoch?
    /// With `--check-reproducible`: what the second build gave.
    public var reproducibility: ReproducibilityCheck?
    public var tags: [String]
    public var imageArchive: String?
    public var builderLog: String?
    public var runtimeLog: String?
    public var builderSeconds: Double?
    public var runtimeSeconds: Double?
    /// The verification report kept beside the saved image, and how many violations it has.
    public var verifyReport: String?
    public var violations: Int?
    /// The scan report kept beside the saved image, and its findings by severity.
    public var scanReport: String?
    public var vulnerabilities: [String: Int]?
    /// Packages no scanner could check (never counted as clean).
    public var unchecked: Int?
    /// "ID package" of each finding that has a fixed version.
    public var fixable: [String]?
    /// Base → the registry manifest digest the engine had for it, for bases pulled from a registry.
    public var baseDigests: [String: String]?
    /// Base → the image ID the build used, read after the build.
    public var baseImages: [String: String]?
    public var error: String?
    /// `registry/repository:tag@digest` of each push after the build (`publish:`).
    public var published: [String]?
    /// Why publishing failed, when it did; the build itself stands.
    public var publishError: String?
}

/// Runs the builds a plan asks for: builder stage, runtime stage, policy check
/// of the result, `docker save` into the state directory; records each step.
public struct BuildRunner: Sendable {
    public var docker: DockerClient
    public var store: any HistoryStore
    public var state: StateDirectory
    public var progress: BuildProgress

    public init(docker: DockerClient, store: any HistoryStore, state: StateDirectory, progress: BuildProgress) {
        self.docker = docker
        self.store = store
        self.state = state
        self.progress = progress
    }

    public func run(_ plans: [BuildPlan], recipes: [String: LoadedRecipe], options: BuildOptions) async -> [BuildOutcome] {
        var outcomes: [Int: BuildOutcome] = [:]
        var pending: [(Int, BuildPlan, Int64?)] = []
        for (index, plan) in plans.enumerated() {
            if plan.action == .skip {
                outcomes[index] = await recordSkip(plan, reason: nil, options: options)
            } else {
                let id = try? await store.insert(record(plan, status: .planned, options: options))
                pending.append((index, plan, id))
            }
        }
        let jobs = max(1, options.jobs)
        await withTaskGroup(of: (Int, BuildOutcome).self) { group in
            var iterator = pending.makeIterator()
            func startNext() {
                guard let (index, plan, id) = iterator.next() else { return }
                group.addTask {
                    guard let recipe = recipes[plan.recipe] else {
                        return (index, failure(plan, id: id, "recipe \(plan.recipe) was not loaded"))
                    }
                    return (index, await build(plan, recipe: recipe, id: id, options: options))
                }
            }
            for _ in 0..<jobs { startNext() }
            for await (index, outcome) in group {
                outcomes[index] = outcome
                startNext()
            }
        }
        return plans.indices.compactMap { outcomes[$0] }
    }

    private func build(_ plan: BuildPlan, recipe: LoadedRecipe, id: Int64?, options: BuildOptions) async -> BuildOutcome {
        // `git log` for SOURCE_DATE_EPOCH runs while the lock is taken and the record written, if
        // it was not started while planning.
        let environment = options.environment
        let runner = docker.runner
        let commits = state.sourceDateEpochs
        let lookup =
            options.epochs?.lookup(of: recipe.name)
            ?? Task { await SourceDateEpoch.lookUp(for: recipe, environment: environment, runner: runner, commits: commits) }
        defer { lookup.cancel() }  // a no-op once it has its answer
        // The history's lock: a flock in the state directory (SQLite), or a PostgreSQL advisory
        // lock held by this process's session, so no other machine builds the recipe meanwhile.
        let lock: any RecipeLock
        do {
            switch try await store.lockRecipe(plan.recipe) {
            case .acquired(let held): lock = held
            case .busy(let message):
                return await finish(
                    plan, id: id, options: options, outcome: failure(plan, id: id, message, status: .skipped))
            }
        } catch {
            return await finish(plan, id: id, options: options, outcome: failure(plan, id: id, error.description))
        }

        var record = record(plan, status: .running, options: options)
        record.id = id
        record.pid = getpid()
        if id != nil { try? await store.update(record) }
        var outcome = BuildOutcome(
            recipe: plan.recipe, status: .failed, buildID: id, reasons: plan.reasons, tags: Planner.tags(recipe))
        let resolvedEpoch = await withTaskCancellationHandler {
            await lookup.value
        } onCancel: {
            lookup.cancel()
        }
        do {
            try await runStages(
                plan, recipe: recipe, directory: state.buildDirectory(recipe: plan.recipe, build: id ?? 0),
                epoch: resolvedEpoch, options: options, outcome: &outcome)
            outcome.status = .succeeded
        } catch {
            outcome.status = error.kind == .interrupted ? .interrupted : .failed
            outcome.error = error.description
        }
        let finished = await finish(plan, id: id, options: options, outcome: outcome)
        await lock.release()  // after the record is final: whoever takes the lock next sees it
        return finished
    }

    private func runStages(
        _ plan: BuildPlan, recipe: LoadedRecipe, directory: URL, epoch: Result<SourceDateEpoch, BuildError>,
        options: BuildOptions, outcome: inout BuildOutcome
    ) async throws(BuildError) {
        if !options.pull, !plan.missingBases.isEmpty {
            let names = plan.missingBases.map { plan.resolvedBases[$0] ?? $0 }.joined(separator: ", ")
            throw BuildError(
                .failed, "base image \(names) is not in the engine",
                hint: "pull it, pass --pull, or map it to a local image with --image-map")
        }
        let epoch = try epoch.get()
        outcome.sourceDateEpoch = epoch
        try await DebianBaseLoader(docker: docker, state: state, progress: progress).ensure(plan)
        var stages = StageResults()
        let rawRuntimeImage: String
        do {
            defer { outcome.record(stages) }  // kept when a stage fails, too
            rawRuntimeImage = try await buildStages(
                plan, recipe: recipe, directory: directory, epoch: epoch, noCache: options.noCache, pull: options.pull,
                results: &stages)
        }
        let images = ReproducibleImages(docker: docker, state: state)
        let normalizing = ContinuousClock.now
        let (release, reused) = try await images.produce(
            rawImage: rawRuntimeImage, recipe: plan.recipe, epoch: epoch.seconds, tags: outcome.tags,
            alreadyTagged: plan.taggedImages)
        outcome.rawRuntimeImage = rawRuntimeImage
        outcome.runtimeImage = release.image
        outcome.manifestDigest = release.manifestDigest
        outcome.ociLayout = release.layout
        outcome.imageArchive = release.archive
        progress.note(
            "\(plan.recipe) normalize: \(Planner.short(release.image)) (SOURCE_DATE_EPOCH \(epoch.seconds)) "
                + (reused
                    ? "already done for \(Planner.short(rawRuntimeImage))"
                    : "in \(BuildProgress.format(ContinuousClock.now - normalizing))")
                + ", tagged \(outcome.tags.joined(separator: ", "))")
        if options.checkReproducible {
            outcome.reproducibility = try await checkReproducible(
                release, plan: plan, recipe: recipe, directory: directory, epoch: epoch, options: options)
        }

        let checked = ContinuousClock.now
        let scanSettings = scanSettings(recipe, options: options)
        let kept = KeptVerification(archive: release.archive)
        let key = KeptVerification.key(image: release.image, policy: recipe.recipe.policy)
        if scanSettings.scanners.isEmpty, let report = kept.load(key: key) {
            // Nothing to scan and this image was verified under this policy: no need to read it.
            try verify(report, kept: kept, key: nil, recipe: recipe, started: checked, outcome: &outcome)
        } else {
            let analysis: ImageAnalysis
            do {
                analysis = try ImageAnalysis.analyze(path: release.archive, policy: recipe.recipe.policy)
            } catch {
                throw BuildError(.failed, "the normalized image cannot be read: \(error.description)")
            }
            KeptCatalog(state: state).keep(analysis.catalog, imageID: release.image)
            try verify(analysis.verification, kept: kept, key: key, recipe: recipe, started: checked, outcome: &outcome)
            try await scan(
                analysis, settings: scanSettings, archive: release.archive, recipe: recipe, options: options, outcome: &outcome)
        }
        if options.pull {
            (outcome.baseImages, outcome.baseDigests) = await basesAsBuilt(plan)
        } else {
            outcome.baseDigests = plan.baseDigests  // nothing pulled: the bases are as planned
        }
    }

    /// Builds the builder stage, then the runtime stage from exactly that builder image, into
    /// `results` as each stage gets there; returns the runtime image ID `docker build` gave (untagged).
    private func buildStages(
        _ plan: BuildPlan, recipe: LoadedRecipe, directory: URL, epoch: SourceDateEpoch, noCache: Bool, pull: Bool,
        label: String = "", results: inout StageResults
    ) async throws(BuildError) -> String {
        try state.createDirectory(directory)
        let dockerfile: String
        if let own = recipe.dockerfile {
            dockerfile = own.path
        } else {
            dockerfile = directory.appendingPathComponent("Dockerfile").path
            try writeRecord(plan.dockerfile, to: dockerfile)
        }
        let arguments = [SourceDateEpoch.variable: "\(epoch.seconds)"]
        let targets = stageTargets(recipe)
        if let builderTarget = targets.builder {
            let log = directory.appendingPathComponent("builder.log").path
            results.builderLog = log
            let inputs = BuilderInputs.digest(parts: plan.inputParts, epoch: epoch.seconds, backend: docker.backend)
            if !noCache, !pull, let previous = plan.previousBuilder, previous.inputs == inputs {
                let why =
                    "inputs unchanged since build #\(previous.build ?? 0), reusing \(Planner.short(previous.image))"
                    + " (--no-cache builds it again)"
                try writeRecord("builder stage not built: \(why)\nimage \(previous.image)\n", to: log)
                results.builderImage = previous.image
                results.builderSeconds = 0
                progress.note("\(plan.recipe) builder\(label): \(why)")
            } else {
                let started = ContinuousClock.now
                let (image, seconds) = try await stage(
                    "builder", plan: plan, dockerfile: dockerfile, context: recipe.contextDirectory.path,
                    target: builderTarget, directory: directory, log: log, noCache: noCache, pull: pull, buildArgs: arguments,
                    labels: pull ? [:] : [BuilderInputs.label: inputs])  // a pulled base is not the planned one
                results.builderImage = image
                results.builderSeconds = seconds
                progress.note(
                    "\(plan.recipe) builder\(label): built \(Planner.short(image)) in \(BuildProgress.format(ContinuousClock.now - started))"
                )
            }
        }
        var runtimeDockerfile = dockerfile
        if recipe.dockerfile == nil, let builderImage = results.builderImage {
            runtimeDockerfile = directory.appendingPathComponent("Dockerfile.runtime").path
            let text = DockerfileRenderer.render(recipe.recipe, bases: plan.resolvedBases, builderImage: builderImage)
            try writeRecord(text, to: runtimeDockerfile)
        }
        let log = directory.appendingPathComponent("runtime.log").path
        results.runtimeLog = log
        let started = ContinuousClock.now
        let (image, seconds) = try await stage(
            "runtime", plan: plan, dockerfile: runtimeDockerfile, context: recipe.contextDirectory.path,
            target: targets.runtime, directory: directory, log: log, noCache: noCache,
            pull: pull && plan.debianBase == nil,  // an assembled base is only in the engine
            buildArgs: arguments)
        results.runtimeSeconds = seconds
        progress.note(
            "\(plan.recipe) runtime\(label): built \(Planner.short(image)) in \(BuildProgress.format(ContinuousClock.now - started))"
        )
        return image
    }

    /// A file of the build's own directory (a Dockerfile, a log): a new directory per build, read
    /// by people and by the engine right away, so written in place, without waiting for the disk.
    private func writeRecord(_ text: String, to path: String) throws(BuildError) {
        do {
            try InPlaceFile.write(Data(text.utf8), to: path)
        } catch {
            throw BuildError(.failed, error.localizedDescription)
        }
    }

    /// Builds both stages again without cache, normalizes the result beside the build's logs
    /// and compares it with `first`; a difference fails the build and shows what differs.
    private func checkReproducible(
        _ first: ReproducibleImage, plan: BuildPlan, recipe: LoadedRecipe, directory: URL, epoch: SourceDateEpoch,
        options: BuildOptions
    ) async throws(BuildError) -> ReproducibilityCheck {
        let scratch = directory.appendingPathComponent("second-build")
        var stages = StageResults()
        let runtimeImage = try await buildStages(
            plan, recipe: recipe, directory: scratch, epoch: epoch, noCache: true, pull: false, label: " (second build)",
            results: &stages)
        let second = try await ReproducibleImages(docker: docker, state: state).normalize(
            rawImage: runtimeImage, recipe: plan.recipe, epoch: epoch.seconds, into: scratch)
        var check = ReproducibilityCheck(
            identical: second.image == first.image && second.manifestDigest == first.manifestDigest,
            rawImages: [first.rawImage, second.rawImage], images: [first.image, second.image],
            manifestDigests: [first.manifestDigest, second.manifestDigest], secondArchive: second.archive)
        if check.identical {
            try? FileManager.default.removeItem(atPath: second.archive)
            try? FileManager.default.removeItem(atPath: second.layout)
            check.secondArchive = nil
            progress.note("\(plan.recipe) reproducible: the second build without cache gave \(Planner.short(second.image)) too")
            return check
        }
        let results = ImageReader(hashContents: true, keepsLayers: true).read([first.archive, second.archive])
        guard case .success(let a) = results[0], case .success(let b) = results[1] else {
            throw BuildError(.failed, "not reproducible: \(first.image) then \(second.image), and the two cannot be compared")
        }
        var diff = ImageDiff(a, b)
        diff.a.image = "first build"
        diff.b.image = "second build"
        check.differences = DiffText(diff: diff, cap: 20).render()
        throw BuildError(
            .failed,
            "not reproducible: two builds without cache gave \(first.image) and \(second.image)\n"
                + (check.differences ?? ""),
            hint: "the second image is kept at \(second.archive); `harden diff` shows everything")
    }

    /// After a `--pull`: each base's image ID as the build used it and the registry digest of each
    /// base the engine pulled from a registry (its `RepoDigests`); local-only bases have no digest
    /// and are compared by image ID instead.
    private func basesAsBuilt(_ plan: BuildPlan) async -> (ids: [String: String]?, digests: [String: String]) {
        guard let images = try? await docker.inspect(Array(Set(plan.resolvedBases.values)).sorted()) else { return (nil, [:]) }
        var ids: [String: String] = [:]
        var digests: [String: String] = [:]
        for (base, reference) in plan.resolvedBases {
            ids[base] = images[reference]?.id
            digests[base] = images[reference]?.registryDigest(for: reference)
        }
        return (ids, digests)
    }

    /// Keeps the verification report beside the saved image (`key`: a new report, made under
    /// it; nil: the kept one, reused); fails the build on violations.
    private func verify(
        _ report: VerifyReport, kept: KeptVerification, key: String?, recipe: LoadedRecipe, started: ContinuousClock.Instant,
        outcome: inout BuildOutcome
    ) throws(BuildError) {
        let path = kept.report
        if let key {
            do {
                try kept.store(report, key: key)
            } catch {
                throw BuildError(.failed, "cannot keep the verification report at \(path): \(error.localizedDescription)")
            }
        }
        outcome.verifyReport = path
        outcome.violations = report.findings.count
        let verdict = report.passed ? "pass" : "\(report.findings.count) violations"
        progress.note(
            "\(recipe.name) verify: \(verdict) "
                + (key == nil
                    ? "(kept report: this image was verified under this policy before)"
                    : "in \(BuildProgress.format(ContinuousClock.now - started))"))
        guard report.passed else {
            // Every failed rule, with its first findings.
            var shown: [String] = []
            for rule in report.rules {
                let findings = report.findings.filter { $0.rule == rule }
                shown += findings.prefix(3).map { "  - [\(rule)] \($0.message)" }
                if findings.count > 3 { shown.append("  - [\(rule)] … and \(findings.count - 3) more") }
            }
            throw BuildError(
                .failed,
                ([
                    "the runtime image failed verification (\(report.findings.count) violation\(report.findings.count == 1 ? "" : "s")):"
                ] + shown)
                .joined(separator: "\n"),
                hint: "full report: \(path); change the recipe, or allow it in its policy: section with a reason")
        }
    }

    /// The recipe's `scan:` section as this build runs it: the built-in scanner needs advisories.
    private func scanSettings(_ recipe: LoadedRecipe, options: BuildOptions) -> ScanSettings {
        var settings = recipe.recipe.scan
        if settings.scanners.contains(.builtin), options.advisories == nil {
            settings.scanners.removeAll { $0 == .builtin }
            progress.note(
                "\(recipe.name) scan: builtin skipped, no advisories (run `harden advisories sync` or `harden advisories import PATH…`, or pass --advisories)"
            )
        }
        return settings
    }

    /// Scans the saved image with `settings`, keeps the report beside it, and fails the build
    /// when the gate does.
    private func scan(
        _ analysis: ImageAnalysis, settings: ScanSettings, archive: String, recipe: LoadedRecipe, options: BuildOptions,
        outcome: inout BuildOutcome
    ) async throws(BuildError) {
        guard !settings.scanners.isEmpty else { return }
        let started = ContinuousClock.now
        let pipeline = ScanPipeline(
            settings: settings, advisories: options.advisories,
            ignoreFile: settings.ignoreFile.map { recipe.contextDirectory.appendingPathComponent($0).path },
            scratch: state.root.appendingPathComponent("tmp"))
        let report: ScanReport
        do {
            report = try await pipeline.scan(analysis.catalogued, path: archive, name: outcome.tags.first ?? recipe.name)
        } catch {
            throw BuildError(.input, "the image could not be scanned: \(error.description)")
        }
        let path = String(archive.dropLast(4)) + ".scan.json"
        do {
            try AtomicFile.write(Data(ScanReportWriter.render(report, as: .json, version: "").utf8), to: path)
        } catch {
            throw BuildError(.failed, "cannot keep the scan report at \(path): \(error.localizedDescription)")
        }
        outcome.scanReport = path
        outcome.vulnerabilities = Dictionary(uniqueKeysWithValues: report.counts.map { ($0.key.rawValue, $0.value) })
        outcome.unchecked = report.unmatchedCount
        outcome.fixable = Set(
            report.findings.compactMap { finding in
                finding.vulnerability.fixedVersion.map { _ in
                    "\(finding.vulnerability.primaryID) \(finding.vulnerability.package)"
                }
            }
        ).sorted()
        let failing = report.findings.filter { $0.verdict == .fails }
        progress.note(
            "\(recipe.name) scan (\(report.scanners.joined(separator: ", "))): \(report.findings.count) findings, \(failing.count) failing the gate in \(BuildProgress.format(ContinuousClock.now - started))"
        )
        for group in report.unmatched {
            progress.note("\(recipe.name) scan: not checked: \(group.summary)")
        }
        if failing.isEmpty, !report.passed {
            throw BuildError(
                .failed,
                "the runtime image failed the vulnerability gate: \(report.unmatchedCount) packages could not be checked",
                hint: "full report: \(path); load advisories for the image's release, or drop scan.fail-on-unmatched")
        }
        guard report.passed else {
            var shown = failing.prefix(5).map {
                "  - \($0.vulnerability.primaryID) (\($0.vulnerability.severity.rawValue)) in \($0.vulnerability.package) \($0.vulnerability.version)"
                    + ($0.vulnerability.fixedVersion.map { ", fixed in \($0)" } ?? "")
            }
            if failing.count > 5 { shown.append("  - … and \(failing.count - 5) more") }
            throw BuildError(
                .failed,
                (["the runtime image failed the vulnerability gate (\(failing.count) finding\(failing.count == 1 ? "" : "s")):"]
                    + shown).joined(separator: "\n"),
                hint: "full report: \(path); update the packages, or accept a finding in the recipe's scan.ignores with a reason")
        }
    }

    private func stage(
        _ name: String, plan: BuildPlan, dockerfile: String, context: String, target: String, directory: URL, log: String,
        noCache: Bool, pull: Bool, buildArgs: [String: String], labels: [String: String] = [:]
    ) async throws(BuildError) -> (String, Double) {
        do {
            return try await docker.build(
                dockerfile: dockerfile, context: context, target: target, tags: [],
                iidFile: directory.appendingPathComponent("\(name).iid").path, logFile: log, noCache: noCache, pull: pull,
                buildArgs: buildArgs, labels: labels,
                onLine: progress.stageHandler(recipe: plan.recipe, stage: name))
        } catch {
            switch error.kind {
            case .interrupted: throw BuildError(.interrupted, "\(name) stage interrupted", hint: "log: \(log)")
            case .engineUnreachable: throw BuildError(.input, error.description)
            default: throw BuildError(.failed, "\(name) stage: \(error.description)")
            }
        }
    }

    private func stageTargets(_ recipe: LoadedRecipe) -> (builder: String?, runtime: String) {
        if let source = recipe.recipe.dockerfile { return (source.builderTarget, source.runtimeTarget) }
        return (recipe.recipe.builder == nil ? nil : DockerfileRenderer.builderStage, DockerfileRenderer.runtimeStage)
    }

    private func record(_ plan: BuildPlan, status: BuildRecord.Status, options: BuildOptions) -> BuildRecord {
        BuildRecord(
            recipe: plan.recipe, status: status, trigger: options.trigger, reasons: plan.reasons,
            inputDigest: plan.inputDigest, inputParts: plan.inputParts, baseImages: plan.baseImages, startedAt: Date())
    }

    private func recordSkip(_ plan: BuildPlan, reason: String?, options: BuildOptions) async -> BuildOutcome {
        var skipped = record(plan, status: .skipped, options: options)
        skipped.runtimeImage = plan.previousImage
        skipped.finishedAt = skipped.startedAt
        let id = try? await store.insert(skipped)
        return BuildOutcome(
            recipe: plan.recipe, status: .skipped, buildID: id, reasons: plan.reasons, runtimeImage: plan.previousImage,
            tags: [])
    }

    private func failure(_ plan: BuildPlan, id: Int64?, _ message: String, status: BuildOutcome.Status = .failed) -> BuildOutcome
    {
        BuildOutcome(recipe: plan.recipe, status: status, buildID: id, reasons: plan.reasons, tags: [], error: message)
    }

    private func finish(_ plan: BuildPlan, id: Int64?, options: BuildOptions, outcome: BuildOutcome) async -> BuildOutcome {
        var record = record(plan, status: .failed, options: options)
        if let id, let existing = try? await store.build(id: id) { record = existing }
        record.status =
            switch outcome.status {
            case .succeeded: .succeeded
            case .skipped: .skipped
            case .failed: .failed
            case .interrupted: .interrupted
            }
        record.builderImage = outcome.builderImage
        record.runtimeImage = outcome.runtimeImage
        record.imageArchive = outcome.imageArchive
        record.builderLog = outcome.builderLog
        record.runtimeLog = outcome.runtimeLog
        record.builderSeconds = outcome.builderSeconds
        record.runtimeSeconds = outcome.runtimeSeconds
        record.finishedAt = Date()
        record.exitStatus = outcome.status == .succeeded ? 0 : outcome.status == .skipped ? 0 : 1
        record.error = outcome.error
        record.baseDigests = outcome.baseDigests ?? [:]
        if let ids = outcome.baseImages, ids != record.baseImages {
            // A pulled base moved after planning: record the inputs the image was really built from.
            for (base, id) in ids { record.inputParts["base/\(base)"] = id }
            record.baseImages.merge(ids) { $1 }
            record.inputDigest = Planner.digest(record.inputParts)
        }
        record.verifyReport = outcome.verifyReport
        record.verification = outcome.violations.map { $0 == 0 ? .pass : .fail }
        record.scanReport = outcome.scanReport
        record.vulnerabilities = outcome.vulnerabilities.map { counts in
            VulnerabilityCounts(
                critical: counts["critical"] ?? 0, high: counts["high"] ?? 0, medium: counts["medium"] ?? 0,
                low: counts["low"] ?? 0, unknown: counts["unknown"] ?? 0, fixable: outcome.fixable ?? [])
        }
        if let reason = outcome.error, outcome.status == .skipped { record.reasons.append(reason) }
        if record.id != nil {
            try? await store.update(record)
        } else {
            _ = try? await store.insert(record)
        }
        return outcome
    }
}
