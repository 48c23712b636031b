import Foundation
import GRDB
import RankdTestKit
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Three `rankd serve` replicas on one PostgreSQL (`storage.postgres`), driven as a gateway
/// fleet drives them: telemetry posted round-robin at a gateway's pace (a batch that fails is
/// sent again to the next replica, with the same request ids), reads on every replica. The
/// leader is killed and restarted; PostgreSQL itself is restarted.
@Suite(.serialized, .enabled(if: Needs.postgres, "needs the test PostgreSQL: scripts/postgres-test-cluster.sh"))
struct ClusterEndToEndTests {
    static let ingest = "ingest-token-for-the-cluster-test"
    static let admin = "admin-token-for-the-cluster-test"

    /// The three replicas' files, the database, and each slot's running process.
    final class Cluster: Sendable {
        let dir: TemporaryDirectory
        let databaseURL: String
        let replicas: Mutex<[DaemonProcess?]>

        init(providers: [String]) async throws {
            if let missing = TestPostgres.missing { Issue.record(Comment(rawValue: missing)) }
            dir = try TemporaryDirectory()
            databaseURL = try TestPostgres.makeDatabase("rankd_cluster")
            for (name, token) in [("ingest.token", ClusterEndToEndTests.ingest), ("admin.token", ClusterEndToEndTests.admin)] {
                try token.write(toFile: dir.file(name), atomically: true, encoding: .utf8)
            }
            for slot in 0..<3 {
                var yaml = """
                    listen: "127.0.0.1:0"
                    data_dir: \(dir.file("data-\(slot)"))
                    epoch_interval_seconds: 5
                    tokens:
                      ingest: {file: \(dir.file("ingest.token"))}
                      admin: {file: \(dir.file("admin.token"))}
                    storage:
                      postgres: {url_env: RANKD_POSTGRES_URL, pool_size: 4, replica_name: replica-\(slot)}
                    endpoints:

                    """
                for provider in providers {
                    yaml += "  - {provider: \(provider), model: m/one, base_url: \"http://127.0.0.1:9/\(provider)/v1\", upstream_model: one}\n"
                }
                try yaml.write(toFile: dir.file("rankd-\(slot).yaml"), atomically: true, encoding: .utf8)
            }
            replicas = Mutex([nil, nil, nil])
            for slot in 0..<3 { try await start(slot) }
            // As a load balancer would: a replica takes traffic once ready (it serves an epoch).
            for process in replicas.withLock({ $0 }) {
                let ready = await process?.waitUntilReady() ?? false
                #expect(ready, "a replica did not become ready")
            }
        }

        func start(_ slot: Int) async throws {
            let process = try await DaemonProcess(
                ["serve", "--config", dir.file("rankd-\(slot).yaml"), "--log-format", "json"], environment: ["RANKD_POSTGRES_URL": databaseURL])
            replicas.withLock { $0[slot] = process }
        }

        func base(_ slot: Int) -> String? { replicas.withLock { $0[slot]?.baseURL } }
        var bases: [String] { replicas.withLock { $0.compactMap { $0?.baseURL } } }

        /// The slot whose replica says it is the leader, and the epoch it serves.
        func leader() async -> (slot: Int, epochID: Int64)? {
            for slot in 0..<3 {
                guard let base = base(slot), let cluster = try? await ClusterEndToEndTests.json("\(base)/v1/cluster") else { continue }
                if cluster["role"] as? String == "leader" { return (slot, (cluster["epoch_id"] as? NSNumber)?.int64Value ?? 0) }
            }
            return nil
        }

        func stopAll() async {
            for process in replicas.withLock({ $0 }) { _ = await process?.stop() }
        }

        /// Live requests counted in a replica's `state.db` (minute buckets and the journal).
        func stored(_ slot: Int) throws -> Int {
            let state = try DatabaseQueue(
                path: dir.file("data-\(slot)/state.db"),
                configuration: {
                    var c = Configuration()
                    c.readonly = true
                    return c
                }())
            return try state.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live')
                             + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)
                        """) ?? -1
            }
        }
    }

    /// What the gateway saw.
    final class Gateway: Sendable {
        /// Request ids of every batch a replica acknowledged (accepted, or known as a duplicate).
        let acknowledged = Mutex<Set<String>>([])
        let refusals = Mutex<[String: Int]>([:])
        let reads = Atomic<Int>(0)
        let readFailures = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        /// Slots not to read from (being killed, or restarting).
        let down = Mutex<Set<Int>>([])
    }

    static func request(_ url: String, method: String = "GET", token: String? = nil, body: Data? = nil, timeout: Double = 5) async throws -> (Int, Data, [AnyHashable: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, data, http?.allHeaderFields ?? [:])
    }

    static func json(_ url: String) async throws -> [String: Any] {
        let (status, data, _) = try await request(url, timeout: 2)
        guard status == 200 else { return [:] }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    /// Posts batches of `size` records every `pause` seconds, round-robin over the replicas; a
    /// batch that is refused or fails goes to the next replica until one acknowledges it.
    static func post(_ cluster: Cluster, _ gateway: Gateway, size: Int = 10, pause: Double = 0.05, providers: [String]) async {
        var batch = 0
        var next = 0
        while !gateway.stop.load(ordering: .relaxed) {
            let now = Date().timeIntervalSince1970
            let ids = (0..<size).map { "gw-\(batch)-\($0)" }
            let body = ids.enumerated().map { index, id in
                "{\"request_id\":\"\(id)\",\"timestamp\":\(now),\"model\":\"m/one\",\"provider\":\"\(providers[index % providers.count])\","
                    + "\"status\":200,\"ttft_ms\":300,\"latency_ms\":1200,\"tools_offered\":true,\"tool_call_valid\":true}"
            }.joined(separator: "\n")
            batch += 1
            var sent = false
            for attempt in 0..<400 where !sent {
                let bases = cluster.bases
                guard !bases.isEmpty else { try? await Task.sleep(for: .milliseconds(50)); continue }
                let base = bases[next % bases.count]
                next += 1
                do {
                    let (status, _, _) = try await request("\(base)/v1/telemetry", method: "POST", token: ingest, body: Data(body.utf8))
                    if status == 200 {
                        gateway.acknowledged.withLock { $0.formUnion(ids) }
                        sent = true
                    } else {
                        gateway.refusals.withLock { $0["\(status)", default: 0] += 1 }
                    }
                } catch {
                    gateway.refusals.withLock { $0["connection", default: 0] += 1 }
                }
                if !sent { try? await Task.sleep(for: .milliseconds(attempt < 10 ? 20 : 100)) }
            }
            try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
        }
    }

    /// Reads rankings from one slot's replica every 20 ms while it is up.
    static func read(_ cluster: Cluster, _ gateway: Gateway, slot: Int) async {
        while !gateway.stop.load(ordering: .relaxed) {
            if !gateway.down.withLock({ $0.contains(slot) }), let base = cluster.base(slot) {
                do {
                    let (status, _, _) = try await request("\(base)/v1/rankings/m/one", timeout: 2)
                    if status != 200 && !gateway.down.withLock({ $0.contains(slot) }) {
                        gateway.readFailures.withLock { $0.append("replica \(slot): \(status)") }
                    }
                } catch {
                    if !gateway.down.withLock({ $0.contains(slot) }) { gateway.readFailures.withLock { $0.append("replica \(slot): \(error)") } }
                }
                gateway.reads.add(1, ordering: .relaxed)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until every replica has counted the whole shared log, then stops them and checks
    /// every acknowledged record is counted exactly once in each replica's `state.db`.
    static func settleAndCount(_ cluster: Cluster, _ gateway: Gateway) async throws -> (acknowledged: Int, stored: [Int]) {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            var lagging = false
            for base in cluster.bases {
                let cluster = try? await json("\(base)/v1/cluster")
                if (cluster?["log_lag"] as? Int ?? 1) != 0 { lagging = true }
            }
            if !lagging { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // The log's last rows reach the local pipelines within a poll.
        try await Task.sleep(for: .seconds(2))
        await cluster.stopAll()
        let acknowledged = gateway.acknowledged.withLock { $0.count }
        return (acknowledged, try (0..<3).map { try cluster.stored($0) })
    }

    @Test func tenLeaderKillsLoseNoRecordAndFailOverWithinTenSeconds_about20s() async throws {
        let started = ContinuousClock.now
        let providers = ["alpha", "beta", "gamma"]
        let cluster = try await Cluster(providers: providers)
        defer { cluster.dir.remove() }
        let gateway = Gateway()
        var first: (slot: Int, epochID: Int64)?
        for _ in 0..<100 where first == nil {
            first = await cluster.leader()
            if first == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(first != nil, "no leader within 10 s")
        // An override made on the leader; a follower refuses one, naming the leader.
        let demote = Data(#"{"endpoint_id": "gamma:m/one", "action": "demote", "note": "failover test", "expires_in_seconds": 3600}"#.utf8)
        let leaderBase = try #require(cluster.base(first?.slot ?? 0))
        var made = URLRequest(url: URL(string: "\(leaderBase)/v1/admin/overrides")!)
        made.httpMethod = "POST"
        made.httpBody = demote
        made.setValue("Bearer \(Self.admin)", forHTTPHeaderField: "Authorization")
        made.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, madeResponse) = try await URLSession.shared.data(for: made)
        #expect((madeResponse as? HTTPURLResponse)?.statusCode == 201)
        made.url = URL(string: "\(cluster.base(((first?.slot ?? 0) + 1) % 3)!)/v1/admin/overrides")!
        let (refusedBody, refused) = try await URLSession.shared.data(for: made)
        #expect((refused as? HTTPURLResponse)?.statusCode == 421)
        #expect(String(decoding: refusedBody, as: UTF8.self).contains("\"leader\":\"replica-\(first?.slot ?? 0)\""))
        let poster = Task { await Self.post(cluster, gateway, providers: providers) }
        let readers = (0..<3).map { slot in Task { await Self.read(cluster, gateway, slot: slot) } }
        try await Task.sleep(for: .seconds(2))

        var failovers: [Double] = []
        var convergence: [Double] = []
        for round in 0..<10 {
            guard let leader = await cluster.leader() else {
                Issue.record("round \(round): no leader")
                break
            }
            gateway.down.withLock { _ = $0.insert(leader.slot) }
            let killedAt = ContinuousClock.now
            cluster.replicas.withLock { $0[leader.slot]?.kill() }
            let survivors = (0..<3).filter { $0 != leader.slot }
            // A survivor leads and serves an epoch newer than the dead leader's last.
            var newLeader: (slot: Int, epochID: Int64)?
            while ContinuousClock.now - killedAt < .seconds(15) {
                for slot in survivors {
                    guard let base = cluster.base(slot), let state = try? await Self.json("\(base)/v1/cluster") else { continue }
                    let epochID = (state["epoch_id"] as? NSNumber)?.int64Value ?? 0
                    if state["role"] as? String == "leader" && epochID > leader.epochID { newLeader = (slot, epochID) }
                }
                if newLeader != nil { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            let failover = (ContinuousClock.now - killedAt) / .milliseconds(1) / 1000
            guard let newLeader else {
                Issue.record("round \(round): no new leader published within 15 s")
                break
            }
            failovers.append(failover)
            print("failover round \(round): killed replica-\(leader.slot) serving epoch \(leader.epochID); replica-\(newLeader.slot) leads, epoch \(newLeader.epochID), after \(failover) s")
            // Every survivor serves that epoch (or a newer one).
            let published = ContinuousClock.now
            var converged = false
            while !converged && ContinuousClock.now - published < .seconds(5) {
                converged = true
                for slot in survivors {
                    let state = try? await Self.json("\(cluster.base(slot)!)/v1/cluster")
                    if ((state?["epoch_id"] as? NSNumber)?.int64Value ?? 0) < newLeader.epochID { converged = false }
                }
                if !converged { try await Task.sleep(for: .milliseconds(25)) }
            }
            convergence.append((ContinuousClock.now - published) / .milliseconds(1) / 1000)
            // The dead replica comes back (same data directory) and rejoins as a follower.
            try await cluster.start(leader.slot)
            #expect(await cluster.replicas.withLock({ $0[leader.slot] })!.waitUntilReady())
            gateway.down.withLock { _ = $0.remove(leader.slot) }
            try await Task.sleep(for: .seconds(1))
        }

        gateway.stop.store(true, ordering: .relaxed)
        await poster.value
        for reader in readers { await reader.value }
        // The override outlived ten leaders: in force in every replica's epoch and listed by each.
        for base in cluster.bases {
            let rankings = try await Self.json("\(base)/v1/rankings/m/one")
            let gamma = (rankings["endpoints"] as? [[String: Any]] ?? []).first { $0["endpoint_id"] as? String == "gamma:m/one" }
            #expect((gamma?["reasons"] as? [String] ?? []).contains("operator_demoted"), "\(base): \(gamma ?? [:])")
            let (_, listed, _) = try await Self.request("\(base)/v1/overrides")
            #expect(String(decoding: listed, as: UTF8.self).contains("failover test"), "\(base)")
        }
        let (acknowledged, stored) = try await Self.settleAndCount(cluster, gateway)
        let readFailures = gateway.readFailures.withLock { $0 }
        print(
            "cluster failover: \(failovers.count) leader kills; new leader published after (s) \(failovers.map { String(format: "%.2f", $0) }.joined(separator: ", ")); "
                + "max \(String(format: "%.2f", failovers.max() ?? -1)) s; survivors served it within (s) max \(String(format: "%.2f", convergence.max() ?? -1)); "
                + "\(acknowledged) records acknowledged, stored per replica \(stored); \(gateway.reads.load(ordering: .relaxed)) reads, "
                + "\(readFailures.count) failed on survivors; refusals seen by the gateway \(gateway.refusals.withLock { $0 }); in \(ContinuousClock.now - started)")
        #expect(failovers.count == 10)
        #expect(failovers.allSatisfy { $0 < 10 }, "\(failovers)")
        #expect(convergence.allSatisfy { $0 < 2 }, "\(convergence)")
        #expect(acknowledged > 1_000)
        #expect(stored == [acknowledged, acknowledged, acknowledged], "every acknowledged record counted exactly once on every replica")
        #expect(readFailures.isEmpty, "\(readFailures.prefix(5))")
    }

    /// PostgreSQL stopped for 4 s under load and started again: meanwhile every replica answers
    /// ingest 503 with Retry-After and keeps serving reads; afterwards they take telemetry again,
    /// a leader publishes, and nothing acknowledged is lost or counted twice.
    @Test func postgresRestartedUnderLoadRefusesIngestKeepsReadsAndRecovers_about15s() async throws {
        let started = ContinuousClock.now
        let providers = ["alpha", "beta"]
        let cluster = try await Cluster(providers: providers)
        defer { cluster.dir.remove() }
        let gateway = Gateway()
        var before: (slot: Int, epochID: Int64)?
        for _ in 0..<100 where before == nil {
            before = await cluster.leader()
            if before == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let poster = Task { await Self.post(cluster, gateway, providers: providers) }
        let readers = (0..<3).map { slot in Task { await Self.read(cluster, gateway, slot: slot) } }
        try await Task.sleep(for: .seconds(2))

        try TestPostgres.control("stop")
        let stoppedAt = ContinuousClock.now
        // What a gateway gets meanwhile, from each replica: status, Retry-After, how long it took.
        var answers: [(status: Int, retryAfter: String?, seconds: Double)] = []
        while ContinuousClock.now - stoppedAt < .seconds(4) {
            for base in cluster.bases {
                let sent = ContinuousClock.now
                let now = Date().timeIntervalSince1970
                let body = "{\"request_id\":\"while-down-\(answers.count)\",\"timestamp\":\(now),\"model\":\"m/one\",\"provider\":\"alpha\",\"status\":200}"
                let (status, _, headers) = try await Self.request(
                    "\(base)/v1/telemetry", method: "POST", token: Self.ingest, body: Data(body.utf8), timeout: 10)
                answers.append((status, headers["Retry-After"] as? String, (ContinuousClock.now - sent) / .milliseconds(1) / 1000))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try TestPostgres.control("start")
        let restartedAt = ContinuousClock.now
        // Every replica takes telemetry again, and a leader publishes a new epoch.
        var recovered: [Double] = []
        for base in cluster.bases {
            while ContinuousClock.now - restartedAt < .seconds(30) {
                let now = Date().timeIntervalSince1970
                let body = "{\"request_id\":\"after-\(UUID())\",\"timestamp\":\(now),\"model\":\"m/one\",\"provider\":\"beta\",\"status\":200}"
                let (status, data, _) = try await Self.request("\(base)/v1/telemetry", method: "POST", token: Self.ingest, body: Data(body.utf8), timeout: 10)
                if status == 200 {
                    let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                    if (answer?["accepted"] as? Int) == 1 {
                        let id = String(body.split(separator: "\"")[3])
                        gateway.acknowledged.withLock { _ = $0.insert(id) }
                    }
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            recovered.append((ContinuousClock.now - restartedAt) / .milliseconds(1) / 1000)
        }
        var leaderAfter: (slot: Int, epochID: Int64)?
        while ContinuousClock.now - restartedAt < .seconds(30) {
            if let leader = await cluster.leader(), leader.epochID > before?.epochID ?? 0 {
                leaderAfter = leader
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let published = (ContinuousClock.now - restartedAt) / .milliseconds(1) / 1000
        try await Task.sleep(for: .seconds(1))

        gateway.stop.store(true, ordering: .relaxed)
        await poster.value
        for reader in readers { await reader.value }
        let (acknowledged, stored) = try await Self.settleAndCount(cluster, gateway)
        let readFailures = gateway.readFailures.withLock { $0 }
        let refused = answers.filter { $0.status == 503 }
        print(
            "PostgreSQL restart: \(answers.count) ingest calls while it was down: \(refused.count) answered 503 "
                + "(Retry-After \(Set(refused.compactMap(\.retryAfter)).sorted()), slowest \(String(format: "%.2f", answers.map(\.seconds).max() ?? -1)) s), "
                + "statuses \(Set(answers.map(\.status)).sorted()); ingest taken again after (s) \(recovered.map { String(format: "%.2f", $0) }); "
                + "a leader published epoch \(leaderAfter?.epochID ?? -1) \(String(format: "%.2f", published)) s after the restart; "
                + "\(acknowledged) records acknowledged, stored per replica \(stored); \(gateway.reads.load(ordering: .relaxed)) reads, "
                + "\(readFailures.count) failed; in \(ContinuousClock.now - started)")
        #expect(!answers.isEmpty && refused.count == answers.count, "\(answers)")
        #expect(refused.allSatisfy { $0.retryAfter != nil })
        #expect(refused.count >= 6, "most refusals come at once, not after a time bound: \(answers)")
        #expect(recovered.count == 3 && recovered.allSatisfy { $0 < 30 }, "\(recovered)")
        #expect(leaderAfter != nil)
        #expect(stored == [acknowledged, acknowledged, acknowledged])
        #expect(readFailures.isEmpty, "\(readFailures.prefix(5))")
    }
}
