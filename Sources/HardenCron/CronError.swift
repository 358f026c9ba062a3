/// A cron expression that can't be used: where the problem is and what was expected.
public struct CronError: Error, Sendable, CustomStringConvertible {
    /// Counts characters of the expression from 1.
    public var column: Int
    /// What is wrong and what is expected, e.g. "minute 61 is out of range 0-59".
    public var message: String

    init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
