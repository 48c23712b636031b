import Foundation
import Logging
import NIOCore
import PostgresNIO
import RankdConfig
import RankdCore

/// The leader's PostgreSQL session: a session-level advisory lock on a connection of its own.
/// Whoever holds it computes and publishes epochs; PostgreSQL frees it when the session ends
/// (the process died, the connection broke), so another replica can take it. Every epoch is
/// written through this same session and only while the recorded term is this leader's: a
/// leader whose session is gone cannot write one (fencing).
public actor LeaderLock {
    let address: PostgresAddress
    let replica: String
    let logger: Logger
    let callTimeout: Duration
    private var connection: PostgresConnection?
    /// The term this replica leads, while it holds the lock.
    public private(set) var term: Int64?

    public init(address: PostgresAddress, replica: String, logger: Logger, callTimeout: Duration = .seconds(3)) {
        self.address = address
        self.replica = replica
        self.logger = logger
        self.callTimeout = callTimeout
    }

    /// Takes the lock if it is free; on success records a new term (one more than the last
    /// leader's) and returns it. Nil when another replica holds it.
    public func tryAcquire() async throws -> Int64? {
        if let term { return term }
        let connection = try await connected()
        let (replica, logger) = (self.replica, self.logger)
        let acquired: Int64? = try await ClusterError.bounded(callTimeout) {
            var held = false
            for try await value in try await connection.query("SELECT pg_try_advisory_lock(\(ClusterDatabase.leaderKey))", logger: logger)
                .decode(Bool.self)
            {
                held = value
            }
            guard held else { return nil }
            for try await term in try await connection.query(
                """
                INSERT INTO rankd_leader (singleton, term, replica, since) VALUES (true, 1, \(replica), now())
                ON CONFLICT (singleton) DO UPDATE SET term = rankd_leader.term + 1, replica = excluded.replica, since = excluded.since
                RETURNING term
                """, logger: logger
            ).decode(Int64.self) {
                return term
            }
            return nil
        }
        term = acquired
        return acquired
    }

    /// True while the session answers and the recorded term is still this one. Anything else
    /// drops the session (freeing the lock) and the term: the caller steps down.
    public func stillHeld() async -> Bool {
        guard let term, let connection else { return false }
        let logger = self.logger
        do {
            let current: Int64? = try await ClusterError.bounded(callTimeout) {
                for try await value in try await connection.query("SELECT term FROM rankd_leader", logger: logger).decode(Int64.self) {
                    return value
                }
                return nil
            }
            if current == term { return true }
            logger.error("leader term moved on: stepping down", metadata: ["term": .stringConvertible(term), "recorded": .string("\(current.map(String.init) ?? "none")")])
        } catch {
            logger.error("leader session lost: stepping down", metadata: ["error": .string("\(error)")])
        }
        await drop()
        return false
    }

    /// Writes an epoch through the lock's session, only while this term is the recorded one,
    /// and notifies the followers at commit. Throws `ClusterError.notLeader` (after dropping the
    /// session) when it may not: the epoch must not be published.
    public func publish(_ epoch: ClusterDatabase.StoredEpoch, computedAt: Double) async throws {
        guard let term, let connection else { throw ClusterError.notLeader }
        let logger = self.logger
        let body = ByteBuffer(bytes: epoch.body)
        let demotions = ByteBuffer(bytes: epoch.demotions)
        let admin = ByteBuffer(bytes: epoch.admin)
        do {
            let written: Bool = try await ClusterError.bounded(callTimeout) {
                try await connection.withTransaction(logger: logger) { connection in
                    var inserted = false
                    for try await _ in try await connection.query(
                        """
                        INSERT INTO rankd_epochs (id, term, computed_at, content_hash, body, demotions, admin)
                        SELECT \(epoch.id), \(term), \(computedAt), \(epoch.contentHash), \(body), \(demotions), \(admin)
                        WHERE (SELECT term FROM rankd_leader) = \(term)
                        RETURNING id
                        """, logger: logger
                    ).decode(Int64.self) {
                        inserted = true
                    }
                    if inserted { try await connection.query("SELECT pg_notify('rankd_epochs', \(String(epoch.id)))", logger: logger) }
                    return inserted
                }
            }
            guard written else { throw ClusterError.notLeader }
        } catch {
            logger.error(
                "epoch not written to PostgreSQL: stepping down", metadata: ["epoch_id": .stringConvertible(epoch.id), "error": .string("\(error)")])
            await drop()
            throw error is ClusterError ? error : ClusterError.unavailable("\(error)")
        }
    }

    /// Gives the lock up (shutdown, or stepping down): the session ends, PostgreSQL frees it.
    public func release() async {
        await drop()
    }

    private func drop() async {
        term = nil
        let old = connection
        connection = nil
        if let old { try? await old.close() }
    }

    private func connected() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        var configuration = PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
            tls: try Self.connectionTLS(address.tls))
        configuration.options.connectTimeout = .seconds(3)
        // The server notices a vanished leader's session within seconds, not hours (keepalives
        // after 2 s idle, 3 unanswered a second apart; unacknowledged data given up after 4 s),
        // and frees its lock: failover stays within its 10 s bound when a host disappears.
        configuration.options.additionalStartupParameters = [
            ("tcp_keepalives_idle", "2"), ("tcp_keepalives_interval", "1"), ("tcp_keepalives_count", "3"), ("tcp_user_timeout", "4000"),
            ("application_name", "rankd leader lock \(replica)"),
        ]
        let logger = self.logger
        let made = try await ClusterError.bounded(callTimeout) { [configuration] in
            try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        }
        connection = made
        return made
    }

    static func connectionTLS(_ mode: PostgresAddress.TLSMode) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: return .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }
}

/// A session that LISTENs for the shared log's and the epochs' notifications and wakes whoever
/// waits; it reconnects by itself. Readers also poll, so a lost notification costs a poll interval.
public final class ClusterListener: Sendable {
    let address: PostgresAddress
    let logger: Logger
    /// Rung when a log row is committed (by any replica).
    public let logWake = Wake()
    /// Rung when an epoch is written.
    public let epochWake = Wake()

    /// Told when the listening session is lost (PostgreSQL stopped or unreachable), so ingest
    /// can refuse at once instead of each batch waiting out its time bound.
    let onLost: @Sendable () -> Void

    public init(address: PostgresAddress, logger: Logger, onLost: @escaping @Sendable () -> Void = {}) {
        self.address = address
        self.logger = logger
        self.onLost = onLost
    }

    /// Listens until cancelled, reconnecting a second after each loss.
    public func run() async {
        while !Task.isCancelled {
            do {
                var configuration = PostgresConnection.Configuration(
                    host: address.host, port: address.port, username: address.user, password: address.password, database: address.database,
                    tls: try LeaderLock.connectionTLS(address.tls))
                configuration.options.connectTimeout = .seconds(3)
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 2, logger: logger)
                defer { Task { try? await connection.close() } }
                let logs = try await connection.listen("rankd_log")
                let epochs = try await connection.listen("rankd_epochs")
                // Whatever came while not listening is read by the next poll; wake both now.
                logWake.ring()
                epochWake.ring()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for try await _ in logs { self.logWake.ring() } }
                    group.addTask { for try await _ in epochs { self.epochWake.ring() } }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                if Task.isCancelled { break }
                logger.debug("PostgreSQL listener reconnecting", metadata: ["error": .string("\(error)")])
            }
            if Task.isCancelled { break }
            onLost()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
