import Foundation

/// Stops what an abandoned build left running: a harden killed with SIGKILL
/// can't stop its `docker build`, so the next harden does, finding it by the
/// build's own directory on its command line.
public enum LeftoverProcesses {
    /// Sends SIGTERM, then SIGKILL, to the process groups of processes whose command line mentions `path`.
    /// Returns the pids found.
    @discardableResult
    public static func stop(mentioning path: String) -> [pid_t] {
        let ownGroup = getpgrp()
        var groups: Set<pid_t> = []
        var found: [pid_t] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard commandLine.contains(path) else { continue }
            found.append(pid)
            let group = getpgid(pid)
            if group > 1 && group != ownGroup { groups.insert(group) } else { kill(pid, SIGTERM) }
        }
        for group in groups { kill(-group, SIGTERM) }
        if !found.isEmpty {
            usleep(500_000)
            for group in groups { kill(-group, SIGKILL) }
            for pid in found where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        }
        return found
    }
}
