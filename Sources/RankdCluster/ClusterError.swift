import Foundation
import PostgresNIO
import Synchronization

/// Why a cluster call failed.
public enum ClusterError: Error, CustomStringConvertible {
    /// PostgreSQL did not answer in time or refused (down, restarting, unreachable).
    case unavailable(String)
    /// The database was migrated by a newer rankd.
    case schemaTooNew(found: Int, known: Int)
    /// This replica no longer holds the leader lock (or another leader's term is newer).
    case notLeader
    /// A log row that cannot be read.
    case damagedLog(seq: Int64, detail: String)

    public var description: String {
        switch self {
        case .unavailable(let detail): "PostgreSQL is unavailable: \(detail)"
        case .schemaTooNew(let found, let known):
            "the PostgreSQL schema is version \(found), newer than this rankd knows (\(known)): run the newer rankd, or a new database"
        case .notLeader: "this replica is not the leader"
        case .damagedLog(let seq, let detail): "rankd_log row \(seq) cannot be read: \(detail)"
        }
    }

    /// `work` within `limit`; its own `ClusterError`s pass through, other errors become
    /// `unavailable`. The caller is answered at the limit even if `work` does not heed its
    /// cancellation (a query on a connection whose server vanished may never complete).
    static func bounded<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let answer = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let resume: @Sendable (Result<T, any Error>) -> Bool = { result in
            guard let continuation = answer.withLock({ slot in defer { slot = nil }; return slot }) else { return false }
            continuation.resume(with: result)
            return true
        }
        do {
            return try await withCheckedThrowingContinuation { continuation in
                answer.withLock { $0 = continuation }
                let worker = Task {
                    do { _ = resume(.success(try await work())) } catch { _ = resume(.failure(error)) }
                }
                Task {
                    try? await Task.sleep(for: limit)
                    if resume(.failure(ClusterError.unavailable("no answer within \(limit)"))) { worker.cancel() }
                }
            }
        } catch let error as ClusterError {
            throw error
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? ClusterError { throw inner }
            throw ClusterError.unavailable(String(reflecting: error))
        } catch {
            throw ClusterError.unavailable(String(reflecting: error))
        }
    }
}
