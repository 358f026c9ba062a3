import ArgumentParser
import Foundation

/// The `harden` command line.
public struct Harden: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "harden",
        abstract: "Build hardened container images from recipes, reproducibly, and keep them patched.",
        discussion: """
            Exit status: 0 success; 1 a build or policy failure; 2 bad input or environment \
            (recipe errors, no Docker engine); 130 interrupted.
            """,
        version: version,
        subcommands: [
            PlanCommand.self, BuildCommand.self, VerifyCommand.self, SbomCommand.self, ScanCommand.self, VexCommand.self,
            CompareCommand.self, DiffCommand.self, NormalizeCommand.self, PushCommand.self, VerifySignatureCommand.self,
            AdvisoriesCommand.self, RebuildCommand.self, WatchCommand.self, HistoryCommand.self, ReportCommand.self,
            ExportCommand.self, LockCommand.self, BaseCommand.self,
            KeyCommand.self, VersionCommand.self,
        ]
    )

    public init() {}
}

/// Exit statuses, as documented in `--help` and the README.
enum Exit {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let badInput: Int32 = 2
    static let interrupted: Int32 = 130
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print harden's version.")

    func run() {
        print("harden \(Harden.version)")
    }
}

/// The entry point: parses the arguments and runs the chosen command.
public enum HardenMain {
    public static func run(_ arguments: [String]? = nil) async {
        // Building the parser's whole command tree costs ~2.5 ms of runtime type lookups in a
        // binary this size; the version needs none of it (the same output as the parsed command).
        if ["version"] == (arguments ?? Array(CommandLine.arguments.dropFirst())) {
            VersionCommand().run()
            return
        }
        do {
            var command = try Harden.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Usage errors are bad input: exit 2 like every other, not ArgumentParser's 64.
            if Harden.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Harden.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Exit.badInput)
            }
            Harden.exit(withError: error)
        }
    }
}
