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
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
        .target(name: "HardenRecipe", dependencies: ["Yams", "HardenConcurrency", "HardenCron"]),
        .target(name: "HardenSQLite", dependencies: ["CSQLite"]),
        .target(name: "HardenHistory", dependencies: ["HardenSQLite"]),
        .target(
            name: "HardenHistoryPostgres",
            dependencies: ["HardenHistory", .product(name: "PostgresNIO", package: "postgres-nio")]),
        .target(name: "HardenVerify", dependencies: ["HardenImage", "HardenRecipe"]),
        .target(name: "HardenProcess", dependencies: [.product(name: "Subprocess", package: "swift-subprocess")]),
        .target(
            name: "HardenAdvisories", dependencies: ["HardenArchive", "HardenConcurrency", "HardenHTTP", "HardenSQLite"]),
        .target(
            name: "HardenScan",
            dependencies: ["HardenAdvisories", "HardenImage", "HardenConcurrency", "HardenProcess", "HardenVersions", "Yams"]),
        .target(name: "HardenVersions"),
        .target(
            name: "HardenDebian",
            dependencies: [
                "HardenArchive", "HardenConcurrency", "HardenHTTP", "HardenImage", "HardenProcess", "HardenVerify", "HardenVersions",
                "Yams", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(name: "HardenCron"),
        .target(
            name: "HardenHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(name: "HardenRegistry", dependencies: ["HardenHTTP", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "HardenPublish",
            dependencies: ["HardenImage", "HardenRegistry", "HardenSigning", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "HardenSigning", dependencies: ["HardenArchive", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "HardenEngine",
            dependencies: [
                "HardenArchive", "HardenHTTP", "HardenProcess",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "HardenPlan",
            dependencies: ["HardenDebian", "HardenEngine", "HardenProcess", "HardenRecipe", "HardenImage", "HardenHistory", "Yams"]),
        .target(name: "HardenReport", dependencies: ["HardenCron", "HardenHistory"]),
        .target(name: "HardenSchedule", dependencies: ["HardenCron", "HardenPlan", "HardenRecipe", "HardenHistory"]),
        .target(
            name: "HardenBuild",
            dependencies: [
                "HardenArchive", "HardenEngine", "HardenPlan", "HardenRecipe", "HardenImage", "HardenVerify", "HardenScan",
                "HardenHistory", "HardenProcess", "HardenAdvisories", "HardenDebian",
            ]
        ),
        .target(
            name: "HardenCommands",
            dependencies: [
                "HardenAdvisories", "HardenBuild", "HardenPlan", "HardenEngine", "HardenProcess", "HardenScan", "HardenHistory", "HardenRegistry",
                "HardenSchedule", "HardenCron", "HardenArchive", "HardenRecipe", "HardenImage", "HardenSQLite", "HardenSigning", "HardenPublish",
                "HardenReport", "HardenDebian", "HardenHistoryPostgres", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "harden", dependencies: ["HardenCommands"]),
        .testTarget(name: "HardenRecipeTests", dependencies: ["HardenRecipe"]),
        .testTarget(name: "HardenProcessTests", dependencies: ["HardenProcess"]),
        .testTarget(
            name: "HardenEngineTests",
            dependencies: [
                "HardenEngine", "HardenArchive", "HardenTestSupport", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "HardenPlanTests", dependencies: ["HardenPlan", "HardenEngine", "HardenProcess", "HardenRecipe", "HardenTestSupport"]),
        .target(
            name: "HardenTestSupport", dependencies: ["HardenImage", "HardenArchive", "HardenConcurrency"],
            path: "Tests/HardenTestSupport"),
        .testTarget(name: "HardenImageTests", dependencies: ["HardenImage", "HardenArchive", "HardenTestSupport"]),
        .testTarget(
            name: "HardenVerifyTests", dependencies: ["HardenVerify", "HardenImage", "HardenArchive", "HardenTestSupport"]),
        .testTarget(
            name: "HardenScanTests", dependencies: ["HardenScan", "HardenAdvisories", "HardenProcess", "HardenVersions"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "HardenAdvisoriesTests", dependencies: ["HardenAdvisories", "HardenArchive", "HardenTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "HardenHistoryTests",
            dependencies: ["HardenHistory", "HardenHistoryPostgres", "HardenSQLite", "CSQLite", "HardenTestSupport"]),
        .testTarget(name: "HardenReportTests", dependencies: ["HardenReport", "HardenHistory"]),
        .testTarget(name: "HardenCronTests", dependencies: ["HardenCron"]),
        .testTarget(name: "HardenScheduleTests", dependencies: ["HardenSchedule", "HardenPlan", "HardenHistory", "HardenRecipe"]),
        .testTarget(name: "HardenHTTPTests", dependencies: ["HardenHTTP"]),
        .testTarget(
            name: "HardenDebianTests",
            dependencies: [
                "HardenDebian", "HardenVersions", "HardenProcess", "HardenArchive", "HardenImage", "HardenTestSupport",
            ]),
        .testTarget(name: "HardenRegistryTests", dependencies: ["HardenRegistry", "HardenTestSupport"]),
        .testTarget(name: "HardenSigningTests", dependencies: ["HardenSigning", "HardenTestSupport"]),
        .testTarget(
            name: "HardenPublishTests",
            dependencies: ["HardenPublish", "HardenRegistry", "HardenImage", "HardenArchive", "HardenSigning", "HardenTestSupport"],
            exclude: ["Checkers"]),
        .testTarget(
            name: "HardenCommandsTests",
            dependencies: [
                "harden", "HardenCommands", "HardenBuild", "HardenHistory", "HardenImage", "HardenDebian", "HardenPlan",
                "HardenRecipe", "HardenArchive", "HardenScan", "HardenAdvisories", "HardenTestSupport", "HardenHistoryPostgres",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
