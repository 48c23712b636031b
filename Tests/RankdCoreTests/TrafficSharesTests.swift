import RankdCore
import RankdTestKit
import Testing

/// Traffic shares and the evidence-weighted order (scoring/README.md, "Traffic shares").
@Suite struct TrafficSharesTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    func id(_ provider: String, _ model: String = Build.model) -> String { "\(provider):\(model)" }

    func epoch(
        _ providers: [String], _ observations: [Observation], policy: Policy = .default, epochID: Int64 = 1,
        overrides: [Override] = [], endpoints: [Endpoint]? = nil
    ) -> ModelRanking {
        let registry = endpoints ?? providers.map { Build.endpoint($0) }
        var engine = MemoryRanking(policy: policy, endpoints: registry, now: start)
        for observation in observations { _ = engine.record(observation) }
        engine.setOverrides(overrides)
        var epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .scheduled)
        if epochID != 1 {
            // The tie draw is seeded by the epoch id: compute more epochs to reach it.
            for _ in 1..<epochID { epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .scheduled) }
        }
        return epoch.ranking(for: registry[0].model)!
    }

    func share(_ ranking: ModelRanking, _ provider: String) -> Double {
        ranking.endpoints.first { $0.provider == provider }!.trafficShare
    }

    /// A reproducible fleet: each endpoint its own volume, failure mix and speed, probes or live.
    func traffic(seed: UInt64, providers: [String]) -> [Observation] {
        var rng = SeededGenerator(seed: seed)
        var all: [Observation] = []
        let failures: [Outcome] = [.schemaViolation, .http5xx, .timeout, .wrongTool, .http429]
        for provider in providers {
            all += Build.observations(
                id(provider), count: Int.random(in: 0...300, using: &rng), end: start.adding(seconds: 600),
                source: Bool.random(using: &rng) ? .live : .probe, failEvery: Int.random(in: 0...8, using: &rng),
                failure: failures.randomElement(using: &rng)!, ttftMilliseconds: Double.random(in: 100...3_000, using: &rng),
                tokensPerSecond: Double.random(in: 20...250, using: &rng))
        }
        return all
    }

    /// Renaming endpoints (ids and providers, to names that sort the other way round) gives every
    /// endpoint exactly the share it had: nothing in a share reads a name.
    @Test(arguments: 1...30 as ClosedRange<UInt64>)
    func renamingEndpointsNeverChangesAShare(seed: UInt64) {
        let names = ["a", "b", "c", "d", "e"]
        let renamed = Dictionary(uniqueKeysWithValues: zip(names, ["zulu", "yankee", "x-ray", "whiskey", "victor"]))
        let observations = traffic(seed: seed, providers: names)
        let moved = observations.map { observation in
            var copy = observation
            copy.endpointID = id(renamed[String(observation.endpointID.split(separator: ":")[0])]!)
            return copy
        }
        let before = epoch(names, observations)
        let after = epoch(names.map { renamed[$0]! }, moved)
        for name in names {
            #expect(share(before, name) == share(after, renamed[name]!), "\(name) -> \(renamed[name]!)")
            let old = before.endpoints.first { $0.provider == name }!
            let new = after.endpoints.first { $0.provider == renamed[name]! }!
            #expect(old.status == new.status && old.score == new.score)
        }
    }

    @Test(arguments: 1...30 as ClosedRange<UInt64>)
    func sharesSumToOneWithAFloorForEveryServableEndpointAndNoneForDemoted(seed: UInt64) {
        let names = ["a", "b", "c", "d", "e"]
        let ranking = epoch(names, traffic(seed: seed, providers: names))
        let servable = ranking.endpoints.filter { $0.status == .ok || $0.status == .insufficientData }
        #expect(abs(servable.map(\.trafficShare).reduce(0, +) - 1) < 1e-5)
        for entry in servable { #expect(entry.trafficShare >= Policy.default.routing.explorationFloor - 1e-9, "\(entry.endpointID)") }
        for entry in ranking.endpoints where entry.status == .demoted { #expect(entry.trafficShare == 0) }
        // The order follows the shares within the servable endpoints.
        let shares = servable.map(\.trafficShare)
        #expect(shares == shares.sorted(by: >), "\(shares)")
    }

    /// A fresh daemon: no data at all. Every endpoint gets the same share, and which one is ranked
    /// first changes from epoch to epoch instead of always being the alphabetically first.
    @Test func withoutDataSharesAreEqualAndRankOneIsNotTheFirstName() {
        let names = ["aaa", "bbb", "ccc", "ddd", "eee"]
        var firsts: Set<String> = []
        for epochID in 1...12 as ClosedRange<Int64> {
            let ranking = epoch(names, [], epochID: epochID)
            for entry in ranking.endpoints { #expect(abs(entry.trafficShare - 0.2) < 1e-6) }
            firsts.insert(ranking.endpoints[0].provider)
        }
        #expect(firsts.count >= 3, "rank 1 over 12 epochs: \(firsts)")
    }

    /// Two clean probes of a fast endpoint against 400 live requests of a slow one: the fast one is
    /// not ranked after the slow one for having less evidence, and gets most of the traffic.
    @Test func fewCleanProbesAndFarBetterLatencyBeatMoreSamplesOfASlowOne() {
        let observations =
            Build.observations(id("slow"), count: 400, end: start.adding(seconds: 600), ttftMilliseconds: 1_500, tokensPerSecond: 40)
            + Build.observations(
                id("fast"), count: 2, end: start.adding(seconds: 600), source: .probe, ttftMilliseconds: 300, tokensPerSecond: 160)
        let ranking = epoch(["fast", "slow"], observations)
        let fast = ranking.endpoints.first { $0.provider == "fast" }!
        #expect(fast.status == .insufficientData)
        #expect(ranking.endpoints[0].provider == "fast")
        #expect(fast.trafficShare > 0.9, "\(fast.trafficShare)")
        #expect(fast.explanation.share?.basis == ShareBasis.topQualityTier)
    }

    /// Equal quality within the bounds: the faster endpoint gets the larger share, the slowest the least.
    @Test func withinTheTopQualityTierSpeedDecides() {
        let observations = [("quick", 200.0, 200.0), ("middle", 400.0, 120.0), ("sluggish", 1_200.0, 40.0)].flatMap { name, ttft, tps in
            Build.observations(id(name), count: 300, end: start.adding(seconds: 600), ttftMilliseconds: ttft, tokensPerSecond: tps)
        }
        let ranking = epoch(["quick", "middle", "sluggish"], observations)
        #expect(ranking.endpoints.map(\.provider) == ["quick", "middle", "sluggish"])
        #expect(share(ranking, "quick") > 0.6 && share(ranking, "quick") > share(ranking, "middle"))
        #expect(share(ranking, "middle") > share(ranking, "sluggish"))
        #expect(ranking.endpoints.allSatisfy { $0.explanation.share?.basis == ShareBasis.topQualityTier })
    }

    /// A faster endpoint whose tool calls fail more often than the best's bound (6% over 2,000
    /// requests, not enough to be demoted) is in the lower quality tier: ranked after the clean,
    /// slower one, with the floor share only (quality first; speed decides within a tier).
    @Test func aKnownWorseToolCallRateLosesToACleanSlowerEndpoint() {
        var policy = Policy.default
        policy.demotion.failureOutlier.minExcessRate = 0.5  // keep it from being demoted: this is about shares
        let observations =
            Build.observations(
                id("quick"), count: 2_000, end: start.adding(seconds: 600), failEvery: 16, ttftMilliseconds: 250, tokensPerSecond: 180)
            + Build.observations(id("clean"), count: 2_000, end: start.adding(seconds: 600), ttftMilliseconds: 500, tokensPerSecond: 110)
        let ranking = epoch(["quick", "clean"], observations, policy: policy)
        let quick = ranking.endpoints.first { $0.provider == "quick" }!
        #expect(quick.status == .ok && quick.score > ranking.endpoints.first { $0.provider == "clean" }!.score)
        #expect(quick.explanation.share?.basis == ShareBasis.lowerQualityTier)
        #expect(ranking.endpoints.map(\.provider) == ["clean", "quick"])
        #expect(abs(share(ranking, "quick") - 0.02) < 1e-9 && abs(share(ranking, "clean") - 0.98) < 1e-9)
        // A difference within quality_tolerance does not count: speed decides again.
        policy.routing.qualityTolerance = 0.05
        let tolerant = epoch(["quick", "clean"], observations, policy: policy)
        #expect(tolerant.endpoints.map(\.provider) == ["quick", "clean"])
        #expect(share(tolerant, "quick") > 0.9)
    }

    /// scoring/README.md's other example: 3 failures in 100 requests against 0 in 2,000 is not yet
    /// known to be worse, so the faster endpoint stays in the top tier.
    @Test func threeFailuresInAHundredAreNotYetKnownToBeWorse() {
        let observations =
            Build.observations(id("quick"), count: 100, end: start.adding(seconds: 600), failEvery: 33, ttftMilliseconds: 250)
            + Build.observations(id("clean"), count: 2_000, end: start.adding(seconds: 600), ttftMilliseconds: 500)
        let ranking = epoch(["quick", "clean"], observations)
        #expect(ranking.endpoints.first { $0.provider == "quick" }!.explanation.stats.toolCallFailureRate == 0.03)
        #expect(ranking.endpoints.allSatisfy { $0.explanation.share?.basis == ShareBasis.topQualityTier })
        #expect(ranking.endpoints[0].provider == "quick")
    }

    @Test func afterOKPutsInsufficientDataAfterOKWithTheFloorOnly() {
        var policy = Policy.default
        policy.routing.insufficientData = .afterOK
        let observations =
            Build.observations(id("known"), count: 300, end: start.adding(seconds: 600), ttftMilliseconds: 900, tokensPerSecond: 50)
            + Build.observations(id("new"), count: 3, end: start.adding(seconds: 600), ttftMilliseconds: 200, tokensPerSecond: 200)
        let ranking = epoch(["known", "new"], observations, policy: policy)
        #expect(ranking.endpoints.map(\.provider) == ["known", "new"])
        #expect(abs(share(ranking, "new") - 0.02) < 1e-9)
        #expect(abs(share(ranking, "known") - 0.98) < 1e-9)
        #expect(ranking.endpoints[1].explanation.share?.basis == ShareBasis.floorOnly)
    }

    @Test func aPinnedEndpointTakesEverythingAboveTheOthersFloors() {
        let names = ["a", "b", "c"]
        let observations = names.flatMap { Build.observations(id($0), count: 100, end: start.adding(seconds: 600)) }
        let pin = Override(
            id: 1, endpointID: id("c"), action: .pin, note: "test", createdAt: start, expiresAt: start.adding(seconds: 3_600))
        let ranking = epoch(names, observations, overrides: [pin])
        #expect(ranking.endpoints[0].provider == "c")
        #expect(abs(share(ranking, "c") - 0.96) < 1e-9)
        #expect(abs(share(ranking, "a") - 0.02) < 1e-9 && abs(share(ranking, "b") - 0.02) < 1e-9)
    }

    /// Never-demote-all keeps every endpoint: the shares then follow the scores (here the one
    /// failing every request gets the floor, the one failing half of them the rest).
    @Test func whenEveryEndpointLooksBadSharesFollowTheScores() {
        // Both start with ten 5xx in a row (the fast path demotes each), then a fails everything
        // and b every other request.
        let run = { (provider: String, failEvery: Int) -> [Observation] in
            Build.observations(id(provider), count: 10, end: start.adding(seconds: 300), spanSeconds: 10, failEvery: 1, failure: .http5xx)
                + Build.observations(
                    id(provider), count: 100, end: start.adding(seconds: 600), spanSeconds: 290, failEvery: failEvery, failure: .http5xx)
        }
        let ranking = epoch(["a", "b"], run("a", 1) + run("b", 2))
        #expect(ranking.reasons.contains(ReasonCode.allEndpointsDegraded))
        #expect(ranking.endpoints.allSatisfy { $0.status == .ok })
        #expect(ranking.endpoints.map(\.provider) == ["b", "a"])
        #expect(abs(share(ranking, "a") - 0.02) < 1e-9 && abs(share(ranking, "b") - 0.98) < 1e-9)
    }
}
