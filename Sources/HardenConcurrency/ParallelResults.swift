import Foundation

/// Slots filled from `DispatchQueue.concurrentPerform`, one per iteration: blocking work
/// (YAML parsing, libarchive reads) spread over every core.
public final class ParallelResults<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Value?]

    public init(count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    public subscript(index: Int) -> Value? {
        get { lock.withLock { slots[index] } }
        set { lock.withLock { slots[index] = newValue } }
    }

    public var values: [Value?] { lock.withLock { slots } }
}

/// Runs `body` for each index on all cores and returns the results in order.
public func concurrentMap<Value>(_ count: Int, _ body: @Sendable (Int) -> Value) -> [Value] {
    let results = ParallelResults<Value>(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { index in results[index] = body(index) }
    return results.values.compactMap { $0 }
}

/// Runs long blocking work (parsing tens of megabytes) on a thread of its own and waits for it
/// without holding one of the cooperative pool's few threads, which other tasks' timers and
/// network reads need meanwhile.
public func blockingWork<Value: Sendable, Failure: Error>(
    _ work: @escaping @Sendable () throws(Failure) -> Value
) async throws(Failure) -> Value {
    let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, Failure>, Never>) in
        Thread {
            do throws(Failure) {
                continuation.resume(returning: .success(try work()))
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }.start()
    }
    return try result.get()
}
