import Synchronization

/// Whether rankd's last writes to its data directory worked, per kind of write (`telemetry`,
/// `epoch`, `buckets`). A failed write (disk full, read-only file system, I/O error) marks its kind
/// failing; the next successful write of that kind clears it, so rankd recovers without a restart
/// once space returns. While any kind is failing `/readyz` answers 503 naming it, and reads keep
/// being answered from the epoch in memory.
public final class StorageHealth: Sendable {
    private let failures = Mutex<[String: String]>([:])

    public init() {}

    /// Records a failed write; true when this kind was not failing before (log it once).
    @discardableResult
    public func failed(_ kind: String, _ error: any Error) -> Bool {
        failures.withLock { failures in
            let new = failures[kind] == nil
            failures[kind] = "\(error)"
            return new
        }
    }

    /// Records a successful write; true when this kind was failing until now (log the recovery).
    @discardableResult
    public func succeeded(_ kind: String) -> Bool {
        failures.withLock { $0.removeValue(forKey: kind) != nil }
    }

    /// The failing kinds and their last error.
    public var problems: [String: String] { failures.withLock { $0 } }
}
