import RankdCore

/// Published against replayed, epoch by epoch: the differences, the demotions and when they
/// came, and the outcome each sequence of epochs would have given users.
struct Comparisons {
    let model: String?

    private struct ModelState {
        var compared = 0
        var differing = 0
        var byInputs = 0
        var byFaultRules = 0
        var differences: [ReplayReport.EpochDifference] = []
        var published = OutcomeEstimate()
        var replayed = OutcomeEstimate()
    }

    private struct Onset {
        var endpointID: String
        var model: String
        var at: Timestamp
        var reasons: [String]
    }

    /// The epochs computed so far that a minute not yet served may have been under.
    private var steps: [(at: Timestamp, published: Epoch?, replayed: Epoch)] = []

    private var models: [String: ModelState] = [:]
    private var publishedOnsets: [Onset] = []
    private var replayedOnsets: [Onset] = []
    private var publishedStatus: [String: EndpointStatus]?
    private var publishedID: Int64?
    private var replayedStatus: [String: EndpointStatus]?
    /// Endpoints the published epochs hold demoted by a fault rule, with the rule and when.
    private var faultDemoted: [String: String] = [:]

    /// Reasons the fault rules give between epochs, from request-by-request evidence a replay
    /// of minute tallies cannot see.
    static let faultRuleReasons: Set<String> = [
        ReasonCode.consecutiveFailures, ReasonCode.failureBurst, ReasonCode.failureRateChange, ReasonCode.knownAnswerFailures,
    ]

    /// False when the baseline is the recorded policy replayed: the published epochs' fast path
    /// and fault rules are not in it, so they explain nothing.
    let baselineIsPublished: Bool

    init(model: String?, baselineIsPublished: Bool = true) {
        self.model = model
        self.baselineIsPublished = baselineIsPublished
    }

    private func wanted(_ ranking: ModelRanking) -> Bool { model.map { $0 == ranking.model } ?? true }

    /// Compares the replayed epoch at `time` with the published one in force then (nil: none yet)
    /// and notes the demotions each began.
    mutating func compare(published: Epoch?, replayed: Epoch, at time: Timestamp) {
        steps.append((time, published, replayed))
        let replayedNow = Self.statuses(replayed)
        if let before = replayedStatus {
            replayedOnsets += onsets(in: replayed, before: before)
        }
        replayedStatus = replayedNow
        guard let published else { return }
        if published.id != publishedID {
            if let before = publishedStatus { publishedOnsets += onsets(in: published, before: before) }
            publishedStatus = Self.statuses(published)
            publishedID = published.id
            for ranking in published.models {
                for entry in ranking.endpoints {
                    let rules = entry.reasons.filter { Self.faultRuleReasons.contains($0) }
                    if entry.status != .demoted {
                        faultDemoted[entry.endpointID] = nil
                    } else if !rules.isEmpty, faultDemoted[entry.endpointID] == nil {
                        faultDemoted[entry.endpointID] = "\(rules.joined(separator: ",")) at \(published.computedAt)"
                    }
                }
            }
        }
        for ranking in replayed.models where wanted(ranking) {
            let other = published.ranking(for: ranking.model)
            var state = models[ranking.model, default: ModelState()]
            state.compared += 1
            if let difference = difference(published: published, other, replayed: ranking, at: time) {
                state.differing += 1
                if difference.inputsDiffer {
                    state.byInputs += 1
                } else if !difference.mayDifferBecause.isEmpty {
                    state.byFaultRules += 1
                }
                state.differences.append(difference)
            }
            models[ranking.model] = state
        }
    }

    private static func statuses(_ epoch: Epoch) -> [String: EndpointStatus] {
        var result: [String: EndpointStatus] = [:]
        for ranking in epoch.models { for entry in ranking.endpoints { result[entry.endpointID] = entry.status } }
        return result
    }

    private func onsets(in epoch: Epoch, before: [String: EndpointStatus]) -> [Onset] {
        var result: [Onset] = []
        for ranking in epoch.models where wanted(ranking) {
            for entry in ranking.endpoints where entry.status == .demoted && before[entry.endpointID] != .demoted {
                result.append(
                    Onset(
                        endpointID: entry.endpointID, model: ranking.model, at: epoch.computedAt, reasons: entry.reasons))
            }
        }
        return result
    }

    private func difference(published epoch: Epoch, _ published: ModelRanking?, replayed: ModelRanking, at time: Timestamp)
        -> ReplayReport.EpochDifference?
    {
        let before = Dictionary(published?.endpoints.map { ($0.endpointID, $0) } ?? [], uniquingKeysWith: { first, _ in first })
        let after = Dictionary(replayed.endpoints.map { ($0.endpointID, $0) }, uniquingKeysWith: { first, _ in first })
        var changes: [ReplayReport.EndpointChange] = []
        var inputsDiffer = false
        for id in Set(before.keys).union(after.keys).sorted() {
            let old = before[id]
            let new = after[id]
            if old?.samples != new?.samples { inputsDiffer = true }
            let same =
                old?.rank == new?.rank && old?.status == new?.status && old?.reasons == new?.reasons
                && abs((old?.score ?? 0) - (new?.score ?? 0)) <= 1e-9
            if same { continue }
            changes.append(
                ReplayReport.EndpointChange(
                    endpointID: id, publishedRank: old?.rank, replayedRank: new?.rank, publishedStatus: old?.status.rawValue,
                    replayedStatus: new?.status.rawValue, publishedReasons: old?.reasons, replayedReasons: new?.reasons,
                    publishedScore: old?.score, replayedScore: new?.score))
        }
        guard !changes.isEmpty else { return nil }
        var because: [String] = []
        guard baselineIsPublished else {
            return ReplayReport.EpochDifference(
                at: "\(time)", publishedEpochID: nil, publishedTrigger: nil, inputsDiffer: inputsDiffer, mayDifferBecause: [], endpoints: changes)
        }
        if epoch.trigger == .fastPath {
            because.append("fast_path: published out of schedule on seconds of evidence the replay sees by the minute")
        }
        if published?.endpoints.contains(where: { $0.explanation.share?.limitedUntil != nil }) == true {
            because.append("share_limit: the fault rules lowered a share on seconds of evidence (latency, rate limits)")
        }
        for change in changes {
            if let rules = before[change.endpointID]?.reasons.filter({ Self.faultRuleReasons.contains($0) }), !rules.isEmpty {
                because.append("fault_rules: \(change.endpointID) had \(rules.joined(separator: ",")) from request-by-request evidence")
            } else if let demotion = faultDemoted[change.endpointID] {
                because.append("fault_rules: \(change.endpointID) was demoted by \(demotion) from request-by-request evidence")
            }
        }
        return ReplayReport.EpochDifference(
            at: "\(time)", publishedEpochID: epoch.id, publishedTrigger: epoch.trigger.rawValue, inputsDiffer: inputsDiffer,
            mayDifferBecause: because, endpoints: changes)
    }

    /// Adds the minutes fed since the last epoch to each sequence's outcome: each minute under
    /// the traffic shares of the epochs in force during it, weighed by how long each was.
    mutating func serve(_ fed: [Int64: Walk.Minute]) {
        guard !fed.isEmpty else { return }
        for minute in fed.keys.sorted() {
            let start = Replayer.time(ofMinute: minute)
            let end = start.adding(seconds: 60)
            var parts: [(weight: Double, published: Epoch, replayed: Epoch)] = []
            for (index, step) in steps.enumerated() {
                let from = max(step.at, start)
                let to = min(index + 1 < steps.count ? steps[index + 1].at : end, end)
                guard to > from, let published = step.published else { continue }
                parts.append((to.seconds(since: from), published, step.replayed))
            }
            guard let first = parts.first else { continue }
            let fedMinute = fed[minute]!
            for ranking in first.replayed.models where wanted(ranking) {
                var tallies: [String: Tally] = [:]
                var live: Int64 = 0
                var all: Int64 = 0
                for entry in ranking.endpoints {
                    guard let tally = fedMinute.tallies[entry.endpointID] else { continue }
                    tallies[entry.endpointID] = tally
                    all += tally.total
                    live += fedMinute.live[entry.endpointID] ?? 0
                }
                let weight = Double(live > 0 ? live : all)
                var state = models[ranking.model, default: ModelState()]
                state.published.addMinute(tallies: tallies, shares: averaged(parts.map { ($0.weight, $0.published) }, model: ranking.model), requests: weight)
                state.replayed.addMinute(tallies: tallies, shares: averaged(parts.map { ($0.weight, $0.replayed) }, model: ranking.model), requests: weight)
                models[ranking.model] = state
            }
        }
        // Epochs that ended before the last minute fed cannot be in force in a later one.
        if let last = fed.keys.max() {
            let next = Replayer.time(ofMinute: last + 1)
            while steps.count > 1, steps[1].at <= next { steps.removeFirst() }
        }
    }

    /// Each endpoint's traffic share averaged over epochs weighed by how long each was in force.
    private func averaged(_ parts: [(weight: Double, epoch: Epoch)], model: String) -> [String: Double] {
        let total = parts.reduce(0) { $0 + $1.weight }
        var result: [String: Double] = [:]
        guard total > 0 else { return result }
        for part in parts {
            for entry in part.epoch.ranking(for: model)?.endpoints ?? [] {
                result[entry.endpointID, default: 0] += entry.trafficShare * part.weight / total
            }
        }
        return result
    }

    func reports(runs: FailingRuns) -> [ReplayReport.ModelReport] {
        let names = Set(models.keys).union(publishedOnsets.map(\.model)).union(replayedOnsets.map(\.model))
        return names.sorted().map { name in
            let state = models[name] ?? ModelState()
            return ReplayReport.ModelReport(
                model: name, epochsCompared: state.compared, epochsDiffering: state.differing, epochsDifferingByInputs: state.byInputs,
                epochsDifferingByFaultRules: state.byFaultRules, epochsDifferingByPolicy: state.differing - state.byInputs - state.byFaultRules,
                differences: state.differences,
                demotions: timings(model: name, runs: runs),
                outcome: .init(published: .init(state.published), replayed: .init(state.replayed)))
        }
    }

    func overall() -> ReplayReport.OutcomeComparison {
        var published = OutcomeEstimate()
        var replayed = OutcomeEstimate()
        for state in models.values {
            published.add(state.published)
            replayed.add(state.replayed)
        }
        return .init(published: .init(published), replayed: .init(replayed))
    }

    /// Published and replayed demotions of one model, paired when they came in the same run of
    /// failing minutes of the same endpoint (else with its nearest within an hour).
    private func timings(model: String, runs: FailingRuns) -> [ReplayReport.DemotionTiming] {
        func start(_ onset: Onset) -> Int64? { runs.run(of: onset.endpointID, beganBy: onset.at.minute)?.start }
        var replayed = replayedOnsets.filter { $0.model == model }
        var result: [ReplayReport.DemotionTiming] = []
        func timing(_ published: Onset?, _ replayed: Onset?) -> ReplayReport.DemotionTiming {
            let first = [published, replayed].compactMap { $0.flatMap(start) }.min()
            func after(_ onset: Onset?) -> Double? {
                guard let onset, let first else { return nil }
                return onset.at.seconds(since: Replayer.time(ofMinute: first))
            }
            return ReplayReport.DemotionTiming(
                endpointID: (published ?? replayed)!.endpointID, firstFailingMinute: first.map { "\(Replayer.time(ofMinute: $0))" },
                publishedAt: published.map { "\($0.at)" }, replayedAt: replayed.map { "\($0.at)" }, publishedAfterSeconds: after(published),
                replayedAfterSeconds: after(replayed),
                replayedVsPublishedSeconds: published.flatMap { published in replayed.map { $0.at.seconds(since: published.at) } },
                publishedReasons: published?.reasons, replayedReasons: replayed?.reasons)
        }
        var unpaired: [Onset] = []
        for onset in publishedOnsets where onset.model == model {
            let run = start(onset)
            if run != nil, let match = replayed.firstIndex(where: { $0.endpointID == onset.endpointID && start($0) == run }) {
                result.append(timing(onset, replayed.remove(at: match)))
            } else {
                unpaired.append(onset)
            }
        }
        // Demotions with no failing minute before them (slowness, say): paired with the same
        // endpoint's nearest one within an hour.
        for onset in unpaired {
            let gap = { (index: Int) in abs(replayed[index].at.seconds(since: onset.at)) }
            let match = replayed.indices.filter { replayed[$0].endpointID == onset.endpointID && gap($0) <= 3_600 }.min { gap($0) < gap($1) }
            result.append(timing(onset, match.map { replayed.remove(at: $0) }))
        }
        result += replayed.map { timing(nil, $0) }
        return result.sorted { ($0.firstFailingMinute ?? "", $0.publishedAt ?? $0.replayedAt ?? "", $0.endpointID) < ($1.firstFailingMinute ?? "", $1.publishedAt ?? $1.replayedAt ?? "", $1.endpointID) }
    }
}
