import HardenVerify

/// Dependencies left out of a distroless closure by default: what only maintainer scripts
/// need at install time, and no maintainer script runs in harden's assembly.
/// - `debconf`, `debconf-2.0`, `cdebconf`: configuration questions (`ca-certificates` and
///   `tzdata` depend on them).
/// - `perl-base`: debconf's interpreter.
/// - `init-system-helpers`, `lsb-base`, `sysvinit-utils`: service registration.
/// - `adduser`, `passwd`: system users (harden writes `/etc/passwd` and `/etc/group` itself).
/// - `ucf`, `sensible-utils`: configuration file merging.
/// - `dpkg`, `install-info`: `Pre-Depends: dpkg (>= …)` asks for an unpacker new enough, and
///   `dpkg (>= …) | install-info` (`readline-common`) for the info directory's trigger; the
///   image gets neither. Taken out of this list, `dpkg` fails the resolution as a package manager.
public enum InstallOnly {
    public static let defaults: Set<String> = [
        "debconf", "debconf-2.0", "cdebconf", "perl-base", "init-system-helpers", "lsb-base", "sysvinit-utils",
        "adduser", "passwd", "ucf", "sensible-utils", "dpkg", "install-info",
    ]
}

/// Packages that would put a shell or a package manager in the image: those `harden verify`
/// looks for, as Debian names the packages that ship them (`dash`, `bash`, `busybox`, `apt`,
/// `dpkg`…), and their `-static` builds.
public enum ForbiddenPackages {
    public static func contains(_ name: String) -> Bool {
        let base = name.hasSuffix("-static") ? String(name.dropLast("-static".count)) : name
        return Verifier.shells.contains(base) || Verifier.isPackageManager(base)
    }
}
