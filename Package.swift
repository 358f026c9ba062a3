// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "harden",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "harden", targets: ["harden"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CArchive",
            path: "Vendor/CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            path: "Vendor/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            path: "Vendor/CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"]), .brew(["libdeflate"])]
        ),
        .systemLibrary(
            name: "CISAL",
            path: "Vendor/CISAL",
            pkgConfig: "libisal",
            providers: [.apt(["libisal-dev"]), .brew(["isa-l"])]
        ),
        .target(
            name: "HardenArchive",
            dependencies: ["CArchive", "CDeflate", "CISAL", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "HardenImage",
            dependencies: ["HardenArchive", "HardenConcurrency", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "HardenConcurrency"),
        .target(name: "HardenRecipe", dependencies: ["Yams", "HardenConcurrency", "HardenSchedule"]),
        .target(name: "HardenHistory", dependencies: ["CSQLite"]),
        .target(name: "HardenVerify", dependencies: ["HardenImage", "HardenRecipe"]),
        .target(name: "HardenScan", dependencies: ["HardenImage", "HardenConcurrency", "Yams"]),
        .target(name: "HardenSchedule"),
        .target(
            name: "HardenRegistry",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "HardenBuild",
            dependencies: [
                "HardenArchive", "HardenRecipe", "HardenImage", "HardenVerify", "HardenScan", "HardenHistory", "HardenSchedule",
                "HardenRegistry",
            ]
        ),
        .target(
            name: "HardenCommands",
            dependencies: [
                "HardenBuild", "HardenScan", "HardenHistory", "HardenRegistry", "HardenSchedule", "HardenArchive",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "harden", dependencies: ["HardenCommands"]),
        .testTarget(name: "HardenRecipeTests", dependencies: ["HardenRecipe"]),
        .testTarget(name: "HardenBuildTests", dependencies: ["HardenBuild", "HardenArchive", "HardenTestSupport", "Yams"]),
        .target(name: "HardenTestSupport", dependencies: ["HardenImage", "HardenArchive"], path: "Tests/HardenTestSupport"),
        .testTarget(name: "HardenImageTests", dependencies: ["HardenImage", "HardenArchive", "HardenTestSupport"]),
        .testTarget(
            name: "HardenVerifyTests", dependencies: ["HardenVerify", "HardenImage", "HardenArchive", "HardenTestSupport"]),
        .testTarget(name: "HardenScanTests", dependencies: ["HardenScan"], exclude: ["Fixtures"]),
        .testTarget(name: "HardenHistoryTests", dependencies: ["HardenHistory", "CSQLite"]),
        .testTarget(name: "HardenScheduleTests", dependencies: ["HardenSchedule"]),
        .testTarget(name: "HardenRegistryTests", dependencies: ["HardenRegistry", "HardenTestSupport"]),
        .testTarget(
            name: "HardenCommandsTests",
            dependencies: [
                "harden", "HardenCommands", "HardenBuild", "HardenHistory", "HardenImage", "HardenArchive", "HardenTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
