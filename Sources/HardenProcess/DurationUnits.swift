/// A `Duration` in the units system calls and reports want.
extension Duration {
    /// In seconds, with the fraction.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// For poll(2): whole milliseconds rounded up, 0 for a time already past, at most `limit`.
    public func pollMilliseconds(atMost limit: Duration) -> Int32 {
        func milliseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        }
        return Int32(max(0, min(milliseconds(self) + 1, milliseconds(limit))))
    }
}
