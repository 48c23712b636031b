import Foundation
import RankdConfig
import RankdCore
import RankdPlatform
import RankdStore

/// What to replay and with which policy.
public struct ReplayOptions: Sendable {
    /// The policy to replay with; nil: the policy each published epoch was computed with.
    public var policy: Policy?
    /// Where `policy` came from, for the report.
    public var policyFile: String?
    public var from: Timestamp?
    public var to: Timestamp?
    /// Seconds between replayed epochs; nil: at the published epochs' times.
    public var intervalSeconds: Double?
    public var model: String?
    /// Benchmark scores from files, in place of those state.db recorded as read (none recorded
    /// before schema 9).
    public var fileBenchmarks: [BenchmarkScore] = []
    /// A directory of benchmark files to read for `fileBenchmarks` (checked against every
    /// endpoint ever in the recorded registry).
    public var benchmarksDirectory: String?
    /// What the replay is compared with.
    public var baseline = Baseline.published

    public enum Baseline: String, Sendable, CaseIterable {
        /// The epochs the daemon published.
        case published
        /// The recorded policy replayed the same way: a policy's effect alone, without what a
        /// replay cannot see (the minute a replayed epoch falls in, the fault rules' seconds).
        case replay
    }

    public init() {}
}

/// Why a replay could not run, each with the fix.
public enum ReplayError: Error, CustomStringConvertible, Equatable {
    case noHistory(file: String)
    case noTallies(file: String)
    case emptyRange(from: String, to: String, history: String)
    case unknownModel(String, known: [String])
    case unreadablePolicy(hash: String, problems: [String])
    case badBenchmarks([String])

    public var description: String {
        switch self {
        case let .noHistory(file): "\(file) holds no epochs: run the daemon until it has published one, then replay"
        case let .noTallies(file): "\(file) holds no minute tallies: nothing was probed or reported to replay"
        case let .emptyRange(from, to, history):
            "no epoch to replay between \(from) and \(to); history holds \(history): widen --from/--to"
        case let .unknownModel(model, known): "--model \(model) is not in any recorded registry; known: \(known.joined(separator: ", "))"
        case let .badBenchmarks(problems): "the --benchmarks files have \(problems.count) problem(s):\n  " + problems.joined(separator: "\n  ")
        case let .unreadablePolicy(hash, problems):
            "the recorded policy \(hash) cannot be read (\(problems.joined(separator: "; "))): pass --policy FILE"
        }
    }
}

/// `rankd replay`: the recorded minute tallies fed through the production windows and scorer at
/// every epoch time of a range, with the recorded or another policy, compared with what was
/// published. Read-only: `state.db` is opened read-only and read in one snapshot.
public enum Replay {
    public static func run(dataDirectory: String, options: ReplayOptions) throws -> ReplayReport {
        let state = try RecordedState(dataDirectory: dataDirectory)
        return try state.snapshot { snapshot in
            var replayer = Replayer(snapshot: snapshot, options: options)
            return try replayer.run()
        }
    }
}

struct Replayer {
    let snapshot: RecordedSnapshot
    let options: ReplayOptions
    var notes: [String] = []
    private var policies: [String: Policy] = [:]

    init(snapshot: RecordedSnapshot, options: ReplayOptions) {
        self.snapshot = snapshot
        self.options = options
    }

    static func time(ofMinute minute: Int64) -> Timestamp { Timestamp(secondsSince1970: Double(minute) * 60) }

    // MARK: Inputs as they were at a time

    /// The recorded policy by hash, read with the policy loader (defaults for keys added since).
    private mutating func recordedPolicy(hash: String) throws -> Policy {
        if let policy = policies[hash] { return policy }
        guard let text = try snapshot.policy(hash: hash) else {
            throw ReplayError.unreadablePolicy(hash: hash, problems: ["not recorded in state.db (epochs from before schema 8)"])
        }
        let problems = ProblemList()
        let policy = PolicyLoader.parse(yaml: text, file: "state.db policies[\(hash)]", problems: problems)
        guard problems.isEmpty else { throw ReplayError.unreadablePolicy(hash: hash, problems: problems.problems.map(\.description)) }
        policies[hash] = policy
        return policy
    }

    /// Overrides in force at `time`: made by then, and not yet ended then (a later revocation
    /// had not happened yet).
    static func overrides(_ all: [Override], at time: Timestamp) -> [Override] {
        all.compactMap { override in
            guard override.createdAt <= time else { return nil }
            var override = override
            if let revoked = override.revokedAt, revoked > time {
                override.revokedAt = nil
                override.revokeNote = nil
            }
            return override
        }
    }

    // MARK: The walk

    mutating func run() throws -> ReplayReport {
        guard let history = try snapshot.epochTimes() else { throw ReplayError.noHistory(file: snapshot.path) }
        guard let retained = try snapshot.retainedMinutes() else { throw ReplayError.noTallies(file: snapshot.path) }
        var from = options.from ?? history.lowerBound
        var to = options.to ?? history.upperBound
        if from < history.lowerBound {
            notes.append("history begins at \(history.lowerBound) (asked from \(from)): the replay starts there")
            from = history.lowerBound
        }
        if to > history.upperBound {
            notes.append("history ends at \(history.upperBound) (asked to \(to)): the replay stops there")
            to = history.upperBound
        }
        let historyText = "\(history.lowerBound) … \(history.upperBound)"
        guard from <= to else { throw ReplayError.emptyRange(from: "\(from)", to: "\(to)", history: historyText) }
        let published = try snapshot.epochHeaders(in: from...to)
        let before = try snapshot.epoch(before: from)
        let times: [(Timestamp, EpochTrigger)]
        if let interval = options.intervalSeconds {
            times = stride(from: from.secondsSince1970, through: to.secondsSince1970, by: interval).map {
                (Timestamp(secondsSince1970: $0), .replay)
            }
        } else {
            times = published.map { ($0.computedAt, $0.trigger) }
        }
        guard !times.isEmpty else { throw ReplayError.emptyRange(from: "\(from)", to: "\(to)", history: historyText) }

        // Registries and the model filter.
        var registries = try snapshot.registryVersions()
        if registries.isEmpty { registries = [(history.lowerBound, try snapshot.currentRegistry())] }
        if let model = options.model {
            let known = Set(registries.flatMap { $0.endpoints.map(\.model) })
            guard known.contains(model) else { throw ReplayError.unknownModel(model, known: known.sorted()) }
            registries = registries.map { ($0.firstUsed, $0.endpoints.filter { $0.model == model }) }
        }
        let overrides = try snapshot.overrides()
        // Recorded scores are read back for every endpoint ever in the registry (the loader drops
        // those of unknown ids); each epoch then keeps its own registry's.
        let everKnown = Set(registries.flatMap { $0.endpoints.map(\.id) })
        var fileBenchmarks = options.fileBenchmarks
        if let directory = options.benchmarksDirectory {
            let problems = ProblemList()
            fileBenchmarks += BenchmarkLoader.loadDirectory(directory, endpointIDs: everKnown, problems: problems)
            guard problems.isEmpty else { throw ReplayError.badBenchmarks(problems.problems.map(\.description)) }
        }
        let uploads = try snapshot.benchmarkUploads()
        let fileSets = try snapshot.benchmarkFileSets()
        if !fileBenchmarks.isEmpty || options.benchmarksDirectory != nil {
            notes.append("benchmark scores: the --benchmarks files throughout, and the admin API's as uploaded")
        } else if fileSets.isEmpty {
            notes.append(
                "benchmark scores: the admin API's as uploaded; no benchmark files recorded (state.db before schema 9): "
                    + "pass --benchmarks DIR for the files the daemon read")
        } else {
            notes.append("benchmark scores: the benchmark files and the admin API's uploads, each as recorded when in force")
        }

        // The long window's data: what retention pruned is gone.
        let firstRetained = Self.time(ofMinute: retained.lowerBound)
        if history.lowerBound < firstRetained.adding(seconds: -60) {
            notes.append(
                "tallies are kept from \(firstRetained) (retention pruned the older ones): epochs replayed before a long window "
                    + "after that read a long window that begins there, where the published ones read more")
        }
        if before != nil && before?.demotions == nil {
            notes.append("the epoch before \(from) was saved without its demotion memory: the replay starts without one")
        }

        var candidate = Lane(walk: Walk(snapshot: snapshot), policy: options.policy)
        var baseline = options.baseline == .replay ? Lane(walk: Walk(snapshot: snapshot), policy: nil) : nil
        var inForce = before?.epoch
        var publishedIndex = 0
        var replayedEpochs = 0
        var comparisons = Comparisons(model: options.model, baselineIsPublished: baseline == nil)
        var benchmarkSets: [Int: [BenchmarkScore]] = [:]
        var fileSetScores: [Int: [BenchmarkScore]] = [:]
        for (time, trigger) in times {
            var next: RecordedSnapshot.EpochHeader?
            while publishedIndex < published.count, published[publishedIndex].computedAt <= time {
                next = published[publishedIndex]
                publishedIndex += 1
            }
            // Only the epoch in force is decoded (one body held at a time).
            if let next { inForce = try snapshot.epoch(id: next.id)?.epoch }
            let recorded = try recordedPolicy(hash: inForce?.policyHash ?? published.first?.policyHash ?? "")
            let registryIndex = registries.lastIndex { $0.firstUsed <= time } ?? 0
            let registry = registries[registryIndex].endpoints
            var benchmarks: [BenchmarkScore] = []
            if let index = uploads.lastIndex(where: { $0.at <= time }) {
                if benchmarkSets[index] == nil {
                    benchmarkSets[index] = BenchmarkLoader.parse(
                        csv: uploads[index].csv, file: "state.db benchmark upload", endpointIDs: everKnown, problems: ProblemList())
                }
                benchmarks = benchmarkSets[index]!
            }
            var files = fileBenchmarks
            if files.isEmpty, options.benchmarksDirectory == nil, let index = fileSets.lastIndex(where: { $0.at <= time }) ?? (fileSets.isEmpty ? nil : 0) {
                if fileSetScores[index] == nil {
                    fileSetScores[index] = BenchmarkLoader.parse(
                        csv: fileSets[index].csv, file: "state.db benchmark files", endpointIDs: everKnown, problems: ProblemList())
                }
                files = fileSetScores[index]!
            }
            let inputs = Lane.Inputs(
                time: time, trigger: trigger, recordedPolicy: recorded, registry: registry, registryVersion: registryIndex, overrides: Self.overrides(overrides, at: time),
                benchmarks: BenchmarkScore.inForce(files: files, api: benchmarks, registry: registry), before: before)
            let (fed, epoch) = try candidate.step(inputs)
            // The minutes since the last epoch, served by the epochs in force during them.
            comparisons.serve(fed)
            replayedEpochs += 1
            if baseline != nil {
                comparisons.compare(published: try baseline!.step(inputs).epoch, replayed: epoch, at: time)
            } else {
                comparisons.compare(published: inForce, replayed: epoch, at: time)
            }
        }
        return ReplayReport(
            stateDB: snapshot.path, policy: options.policy == nil ? "recorded" : (options.policyFile ?? "given"),
            policyHash: options.policy?.hash, baseline: options.baseline.rawValue,
            range: .init(
                from: "\(times.first!.0)", to: "\(times.last!.0)", intervalSeconds: options.intervalSeconds, epochsReplayed: replayedEpochs,
                retainedFrom: "\(firstRetained)", retainedTo: "\(Self.time(ofMinute: retained.upperBound))"),
            notes: notes, models: comparisons.reports(runs: candidate.walk.runs), outcome: comparisons.overall(), estimateCaveat: ReplayReport.caveat)
    }
}

/// One policy walked through recorded time: its own windows (a policy may change their
/// lengths) and ranking engine.
struct Lane {
    var walk: Walk
    /// Nil: the policy recorded for each epoch.
    let policy: Policy?
    private var engine: RankingEngine?
    private var key = ""

    init(walk: Walk, policy: Policy?) {
        self.walk = walk
        self.policy = policy
    }

    /// What was in force at one epoch time.
    struct Inputs {
        var time: Timestamp
        var trigger: EpochTrigger
        var recordedPolicy: Policy
        var registry: [Endpoint]
        /// Which recorded registry it is (an engine is rebuilt when it changes).
        var registryVersion: Int
        var overrides: [Override]
        var benchmarks: [BenchmarkScore]
        /// The epoch before the range: its id and demotion memory start the engine.
        var before: RecordedSnapshot.RecordedEpoch?
    }

    /// Moves the windows to the epoch time and computes the epoch; returns the minutes fed.
    mutating func step(_ inputs: Inputs) throws -> (fed: [Int64: Walk.Minute], epoch: Epoch) {
        let policy = self.policy ?? inputs.recordedPolicy
        let fed = try walk.advance(to: inputs.time, policy: policy, registry: inputs.registry)
        let key = policy.hash + "|\(inputs.registryVersion)"
        if engine == nil || key != self.key {
            // A new policy or registry: the daemon restarted (or reloaded); memory carries over.
            engine = RankingEngine(
                policy: policy, endpoints: inputs.registry, now: inputs.time, lastEpochID: engine?.lastEpochID ?? inputs.before?.epoch.id ?? 0,
                demotions: engine?.demotions ?? inputs.before?.demotions ?? [:])
            // Over the machine's cores, as the daemon scores (the result does not depend on it).
            engine!.parallelism = Parallel.scoring
            self.key = key
        }
        engine!.setOverrides(inputs.overrides)
        engine!.setBenchmarkScores(inputs.benchmarks)
        return (fed, engine!.computeEpoch(now: inputs.time, trigger: inputs.trigger, windows: walk.windows!.totals))
    }
}
