import Foundation
import Logging
import RankdCore
import RankdPlatform
import RankdStore
import Synchronization

/// The one owner of the windows and of the rule they keep: **the windows' totals equal the sums
/// of `state.db`'s rows over each window.** Every tally the windows count is in the store before
/// the windows advance past it (live telemetry is journalled before it is counted, probe tallies
/// are written before each advance), and what leaves a window is read back from the store.
///
/// Only this type commits live telemetry, holds the ingest gate, folds the journal, counts, and
/// advances or rebuilds the windows (the windows, the gate and the store are private to it). The
/// ingest pipeline hands it committed groups; the ranker hands it probe observations, asks it to
/// advance and reads the totals.
public actor WindowLedger {
    private var windows: WindowAggregator
    /// Held shared by each live group from its commit until it is counted, and exclusive while
    /// the windows read back what leaves them: the rows read never hold a record the windows
    /// have not counted yet (they would subtract what they never added).
    private let gate = IngestGate()
    private let buckets: BucketStore
    private let journal: LiveJournal
    /// Each endpoint's position in the engine's registry: looked up once per observation here and
    /// handed to the engine with the admissions.
    private var positions: [String: Int]
    private let logger: Logger
    /// Set until the windows are rebuilt from `state.db`: the time they were opened at. Start-up
    /// serves the last epoch without waiting for them.
    private var openedAt: Timestamp?
    /// Probe tallies drained from the windows whose write failed: kept for the next attempt.
    private var unsaved: [MinuteBucket] = []
    /// Totals lent out for scoring and not given back yet (`lend`, `giveBack`). Meanwhile what is
    /// counted waits in `deferred`: a write to the windows while the scorer reads them would copy
    /// the whole table (and each endpoint's current minute touched) once an epoch.
    private var lent = 0
    private var deferred: [(bucket: MinuteBucket, persist: Bool)] = []

    /// Opens the windows at `now` over `store`. Live telemetry acknowledged before a crash may
    /// still be in the journal: it is folded now, before any new record is journalled, so the
    /// rebuild reads it exactly once.
    public init(buckets: BucketStore, journal: LiveJournal, policy: Policy, endpoints: [Endpoint], now: Timestamp, logger: Logger) throws {
        self.buckets = buckets
        self.journal = journal
        self.logger = logger
        positions = RankingEngine.positions(of: endpoints)
        windows = RankingEngine.windows(for: policy, now: now)
        lengths = (windows.shortWindowMinutes, windows.longWindowMinutes, windows.coarseMinutes)
        try journal.fold()
        openedAt = now
    }

    /// Rebuilds the windows from the stored buckets (hour rows, and the minutes of the short and
    /// recent windows, whichever reaches back further), once.
    ///
    /// Start-up does not wait for this: the epoch loop calls it first, and every method that
    /// moves or reads the windows calls it before. Nothing is counted twice: what is counted meanwhile
    /// is in memory and in the journal or the unsaved probe tallies, none of which this reads.
    /// Returns the buckets loaded (0 when already done).
    @discardableResult
    public func rebuild() throws -> Int {
        guard let openedAt else { return 0 }
        let started = ContinuousClock.now
        // A read that fails half-way must not leave half the buckets loaded (the next attempt
        // would count them twice): they go into a copy, kept only when all were read.
        var rebuilt = windows
        let span = windows.coarseMinutes
        // From the first span of the long window: the windows read back whole spans when they
        // leave, so they must hold whole spans (hour rows only if a span is an hour).
        let count = try buckets.forEachWindowBucket(
            sinceMinute: WindowAggregator.spanStart(of: openedAt.minute - windows.longWindowMinutes + 1, span: span),
            exactWindowStartMinute: openedAt.minute - max(windows.shortWindowMinutes, windows.recentWindowMinutes.last ?? 0) + 1,
            hourRows: span == 60
        ) { bucket, inLongWindow in
            if positions[bucket.endpointID] != nil { rebuilt.load(bucket, inLongWindow: inLongWindow) }
        }
        rebuilt.packPast()
        windows = rebuilt
        self.openedAt = nil
        logger.info(
            "windows rebuilt",
            metadata: [
                "buckets": .stringConvertible(count), "read_and_load_ms": .string(String(format: "%.1f", (ContinuousClock.now - started).milliseconds)),
            ])
        return count
    }

    // MARK: Counting

    /// A group of live records committed to `state.db`, holding the gate until it is counted
    /// (`count(_:)`). Only the ledger makes one.
    public struct LiveGroup: Sendable {
        /// Per record submitted: true if new, false for a duplicate `request_id`.
        public let fresh: [Bool]
        /// The new records' observations, in order: what the windows will count.
        public let accepted: [Observation]
        fileprivate let hold: GateHold
    }

    /// Releases a shared hold on the gate once (if a group is dropped uncounted, when it goes).
    fileprivate final class GateHold: Sendable {
        let gate: IngestGate
        let released = Mutex(false)

        init(_ gate: IngestGate) { self.gate = gate }

        func release() {
            if released.withLock({ let was = $0; $0 = true; return !was }) { gate.unlockShared() }
        }

        deinit { release() }
    }

    /// Commits live records (deduplicated by `request_id` in the same transaction) and holds the
    /// gate for them until they are counted. Runs on the store's writer, not on the ledger, so a
    /// group commits while the previous one is counted. Throws the store's error; then nothing was
    /// committed and nothing is held.
    public nonisolated func commitLive(_ records: [(requestID: String, observation: Observation)]) async throws -> LiveGroup {
        await gate.lockShared()
        let hold = GateHold(gate)
        let fresh = try await journal.commitAsync(records)
        var accepted: [Observation] = []
        accepted.reserveCapacity(records.count)
        for (index, isNew) in fresh.enumerated() where isNew { accepted.append(records[index].observation) }
        return LiveGroup(fresh: fresh, accepted: accepted, hold: hold)
    }

    /// What counting a batch answered: per observation, its admission and its position in the
    /// registry (-1 for none), for the engine.
    public struct Counted: Sendable {
        public let admissions: [WindowAggregator.Admission]
        public let positions: [Int]
    }

    /// Counts the endpoints of `endpoints` from now on (a configuration reload): a new one's
    /// records are counted from its first, a removed one's are no longer (what the windows hold
    /// of it stays, and leaves them as time passes).
    public func setRegistry(_ endpoints: [Endpoint]) {
        positions = RankingEngine.positions(of: endpoints)
    }

    /// Counts a committed live group in the windows and releases its hold on the gate.
    public func count(_ group: LiveGroup) -> Counted {
        defer { group.hold.release() }
        return count(group.accepted, persist: false)
    }

    /// Counts observations not yet in the store (probes, demo traffic): their tallies are
    /// written at the next flush or advance, whichever comes first.
    public func count(_ observations: [Observation]) -> Counted {
        count(observations, persist: true)
    }

    private func count(_ observations: [Observation], persist: Bool) -> Counted {
        WorkerPriority.lower()
        let found = observations.map { positions[$0.endpointID] ?? -1 }
        let known = found.map { $0 >= 0 }
        guard lent > 0 else {
            return Counted(admissions: windows.record(batch: observations, known: known, persist: persist), positions: found)
        }
        let (admissions, buckets) = windows.admissions(batch: observations, known: known)
        for bucket in buckets { deferred.append((bucket, persist)) }
        return Counted(admissions: admissions, positions: found)
    }

    /// Counts what waited while totals were lent out.
    private func applyDeferred() {
        guard !deferred.isEmpty else { return }
        for (bucket, persist) in deferred { windows.record(bucket, persist: persist) }
        deferred.removeAll()
    }

    /// Counting does not wait for the rebuild (what is counted before it is not read by it); a
    /// failed rebuild is retried by the next advance or flush, which report the error.
    private func rebuildOrLog() {
        guard openedAt != nil else { return }
        do { try rebuild() } catch { logger.error("could not rebuild the windows from state.db", metadata: ["error": .string("\(error)")]) }
    }

    // MARK: Time

    /// Moves the windows to `now`, reading back from `state.db` what leaves them (once a minute):
    /// holding the gate, so no committed record is still on its way here, with the probe tallies
    /// written first, so the rows read hold everything the windows counted. On a storage error
    /// the windows stay where they were (they lag, they do not drift) and the error is thrown;
    /// the next call catches up. Returns the totals, advanced.
    @discardableResult
    public func advance(to now: Timestamp) async throws -> WindowTotals {
        WorkerPriority.lower()
        try rebuild()
        guard now.minute > windows.currentMinute else { return windows.totals }
        await gate.lock()
        defer { gate.unlock() }
        // What is counted must be in the windows before they read back what leaves them (were
        // totals lent out meanwhile, this copies the table once: rare, a minute turning mid-epoch).
        applyDeferred()
        try saveProbeTallies()
        let started = ContinuousClock.now
        var past = buckets
        let rows = try windows.advance(to: now, past: &past)
        logger.debug(
            "windows advanced",
            metadata: [
                "minute": .stringConvertible(now.minute), "rows_read": .stringConvertible(rows),
                "ms": .string(String(format: "%.1f", (ContinuousClock.now - started).milliseconds)),
            ])
        return windows.totals
    }

    /// Advances the windows to `now` and lends their totals out for scoring: until `giveBack()`,
    /// what is counted waits beside them instead of writing into the table the scorer reads.
    /// Pair with `giveBack()` once the totals are no longer referenced.
    public func lend(advancingTo now: Timestamp) async throws -> WindowTotals {
        let totals = try await advance(to: now)
        lent += 1
        return totals
    }

    /// Takes back totals lent by `lend`, and counts what waited.
    public func giveBack() {
        precondition(lent > 0, "giveBack without lend")
        lent -= 1
        if lent == 0 { applyDeferred() }
    }

    /// Writes the probe tallies still in memory to `state.db` (every flush interval, after each
    /// epoch, and at shutdown).
    public func flush() throws {
        try rebuild()
        try saveProbeTallies()
    }

    /// Folds the live journal into the minute buckets (see `LiveJournal.fold`), on the
    /// store's writer, so counting goes on meanwhile. The windows are rebuilt first if they were
    /// not yet: the rebuild reads the minute buckets without the journal, so a fold before it
    /// would count the journalled records twice. Returns the records folded.
    @discardableResult
    public func foldJournal() async throws -> Int {
        try rebuild()
        return try await journal.foldAsync()
    }

    /// Writes pending probe tallies in one transaction; on failure they are kept for the next
    /// attempt (nothing was committed, so nothing is counted twice).
    private func saveProbeTallies() throws {
        unsaved += windows.drainPendingBuckets()
        guard !unsaved.isEmpty else { return }
        try buckets.add(unsaved)
        unsaved.removeAll()
    }

    // MARK: Upkeep

    /// Rolls the minutes the short window no longer needs up into hours, then deletes minute
    /// buckets before `pruneBefore` (the caller keeps every bucket the windows will still read back
    /// as it leaves them). Runs on the caller's thread (the epoch publisher's queue), not on the
    /// ledger: it changes how the past is stored, never what it sums to.
    public nonisolated func rollUpAndPrune(rollUpBefore minute: Int64, pruneBefore cut: Int64) throws {
        try buckets.rollUp(beforeMinute: minute)
        try buckets.prune(before: cut)
    }

    // MARK: Reading

    /// The totals as they are (without advancing).
    public var totals: WindowTotals { windows.totals }

    /// The window lengths in whole minutes and the long window's span.
    public nonisolated let lengths: (short: Int64, long: Int64, spanMinutes: Int64)

    /// Window totals of one endpoint, for tests and diagnostics.
    public func stats(for endpointID: String) -> WindowStats {
        rebuildOrLog()
        return windows.stats(for: endpointID)
    }

    /// Each endpoint's figures over the recent windows (OpenRouter's 5 and 30 minutes, the
    /// cut-offs' window) and the long one, with the windows advanced to `now` first (so a minute
    /// that has ended is in them, and one that has left them is not). `onlyWindowSeconds`: that
    /// window's figures alone (a route's cut-offs need one; percentiles over the long window are
    /// the dearest to work out).
    public func figures(for endpointIDs: [String], now: Timestamp, onlyWindowSeconds: Int? = nil) async throws -> [String: EndpointFigures] {
        try await advance(to: now)
        let minutes = windows.recentWindowMinutes
        let longSeconds = Int(windows.longWindowMinutes) * 60
        let wanted = { (seconds: Int) in onlyWindowSeconds.map { $0 == seconds } ?? true }
        var result: [String: EndpointFigures] = [:]
        for id in endpointIDs where positions[id] != nil {
            var figures = EndpointFigures(windows: [:])
            if minutes.contains(where: { wanted(Int($0) * 60) }) {
                for (tallies, length) in zip(windows.recentStats(for: id), minutes) where wanted(Int(length) * 60) {
                    figures.windows[Int(length) * 60] = WindowFigures(tallies)
                }
            }
            if wanted(longSeconds) { figures.windows[longSeconds] = WindowFigures(windows.stats(for: id).long) }
            result[id] = figures
        }
        return result
    }

    /// What the windows hold in memory, for `/metrics`.
    public var memory: (minutes: Int, spans: Int, totalBytes: Int) {
        (windows.storedMinuteCount, windows.storedSpanCount, windows.packedTotalBytes)
    }
}
