import Foundation
import RankdCore
import RankdTestKit
import Testing

/// Operator overrides: what each action publishes, what it leaves alone (the rules' memory), when
/// it ends, and how a request body is read.
@Suite struct OverrideTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)
    let providers = ["alpha", "beta", "gamma"]
    func id(_ provider: String) -> String { "\(provider):\(Build.model)" }

    /// An engine with 10 minutes of traffic: `beta` is the best scorer, `gamma` fails half its tool
    /// calls (so the rules demote it).
    func engine() -> MemoryRanking {
        var engine = MemoryRanking(policy: .default, endpoints: providers.map { Build.endpoint($0) }, now: start)
        let end = start.adding(seconds: 599)
        for provider in providers {
            let observations = Build.observations(
                id(provider), count: 200, end: end, failEvery: provider == "gamma" ? 2 : 0,
                ttftMilliseconds: provider == "beta" ? 200 : 400, tokensPerSecond: provider == "beta" ? 120 : 80)
            for observation in observations { _ = engine.record(observation) }
        }
        return engine
    }

    func override(_ provider: String, _ action: Override.Action, id: Int64 = 1, minutes: Double = 60) -> Override {
        Override(
            id: id, endpointID: self.id(provider), action: action, note: "incident 42", createdAt: start,
            expiresAt: start.adding(seconds: 600 + minutes * 60))
    }

    func entries(_ epoch: Epoch) -> [String: EndpointRanking] {
        Dictionary(uniqueKeysWithValues: epoch.ranking(for: Build.model)!.endpoints.map { ($0.provider, $0) })
    }

    func order(_ epoch: Epoch) -> [String] { epoch.ranking(for: Build.model)!.endpoints.map(\.provider) }

    @Test func withoutOverridesTheRulesDecide() {
        var engine = engine()
        let epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .scheduled)
        #expect(order(epoch) == ["beta", "alpha", "gamma"])
        #expect(entries(epoch)["gamma"]!.status == .demoted)
        #expect(entries(epoch)["gamma"]!.demotedSince == start.adding(seconds: 600))
        #expect(entries(epoch)["beta"]!.override == nil)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var provider: String
        var action: Override.Action
        var order: [String]
        var status: EndpointStatus
        var testDescription: String { "\(action.rawValue) \(provider)" }
    }

    @Test(arguments: [
        Case(provider: "alpha", action: .pin, order: ["alpha", "beta", "gamma"], status: .ok),
        // A pin lifts a rule demotion and goes first.
        Case(provider: "gamma", action: .pin, order: ["gamma", "beta", "alpha"], status: .ok),
        Case(provider: "beta", action: .disable, order: ["alpha", "gamma", "beta"], status: .disabled),
        Case(provider: "beta", action: .demote, order: ["alpha", "beta", "gamma"], status: .demoted),
        // Un-demoted, gamma is placed by its (poor) score.
        Case(provider: "gamma", action: .undemote, order: ["beta", "alpha", "gamma"], status: .ok),
    ])
    func actionPublishesWhatItSays(_ test: Case) {
        var engine = engine()
        engine.setOverrides([override(test.provider, test.action)])
        let epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override)
        let entry = entries(epoch)[test.provider]!
        #expect(order(epoch) == test.order)
        #expect(entry.status == test.status)
        #expect(entry.reasons.first == test.action.reasonCode)
        #expect(entry.override?.note == "incident 42")
        // The rules' memory is untouched: gamma is demoted by the rules whatever the operator says.
        #expect(engine.demotions[id("gamma")]?.isDemoted == true)
        #expect(engine.demotions[id("beta")]?.isDemoted != true)
    }

    /// The entry holds its override boxed; its JSON and equality are what an inline field gave:
    /// an `override` object when there is one, no key when there is none, and a round trip keeps it.
    @Test func boxedOverrideEncodesAndComparesAsTheOverride() throws {
        var engine = engine()
        let pin = override("beta", .pin)
        engine.setOverrides([pin])
        let epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .scheduled)
        let pinned = try #require(entries(epoch)["beta"])
        let plain = try #require(entries(epoch)["alpha"])
        #expect(pinned.override == pin)
        #expect(plain.override == nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(pinned)) as? [String: Any])
        let nested = try #require(object["override"] as? [String: Any])
        #expect(nested["note"] as? String == "incident 42")
        #expect(nested["action"] as? String == "pin")
        #expect(try JSONDecoder().decode(EndpointRanking.self, from: encoder.encode(pinned)) == pinned)
        let none = try #require(try JSONSerialization.jsonObject(with: encoder.encode(plain)) as? [String: Any])
        #expect(none["override"] == nil)
        #expect(try JSONDecoder().decode(EndpointRanking.self, from: encoder.encode(plain)) == plain)
        // Compared by value, not by box.
        var copy = pinned
        copy.override = pin
        #expect(copy == pinned && copy.hashValue == pinned.hashValue)
        copy.override = override("beta", .pin, id: 2)
        #expect(copy != pinned)
    }

    @Test func undemoteKeepsTheRulesReasonsVisible() {
        var engine = engine()
        engine.setOverrides([override("gamma", .undemote)])
        let entry = entries(engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override))["gamma"]!
        #expect(entry.reasons.contains(ReasonCode.toolCallFailureOutlier))
        #expect(entry.demotedUntil == nil && entry.demotedSince == nil)
    }

    @Test func forcedDemotionShowsItsEndAndStart() {
        var engine = engine()
        let forced = override("beta", .demote)
        engine.setOverrides([forced])
        let entry = entries(engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override))["beta"]!
        #expect(entry.demotedUntil == forced.expiresAt)
        #expect(entry.demotedSince == forced.createdAt)
    }

    @Test func anOverrideEndsAtItsExpiryAndTheRulesTakeBack() {
        var engine = engine()
        engine.setOverrides([override("gamma", .pin, minutes: 1)])
        #expect(engine.nextOverrideExpiry == start.adding(seconds: 660))
        let during = engine.computeEpoch(now: start.adding(seconds: 630), trigger: .override)
        #expect(order(during).first == "gamma")
        let after = engine.computeEpoch(now: start.adding(seconds: 660), trigger: .override)
        #expect(order(after) == ["beta", "alpha", "gamma"])
        #expect(entries(after)["gamma"]!.status == .demoted)
        #expect(entries(after)["gamma"]!.override == nil)
        #expect(engine.overrides.isEmpty, "ended overrides are dropped")
        #expect(engine.nextOverrideExpiry == nil)
    }

    @Test func revokedOverrideIsNotApplied() {
        var engine = engine()
        var pin = override("alpha", .pin)
        pin.revokedAt = start.adding(seconds: 300)
        engine.setOverrides([pin])
        #expect(order(engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override)).first == "beta")
    }

    @Test func newestOverrideOfAnEndpointWins() {
        let older = override("alpha", .disable, id: 1)
        let newer = override("alpha", .pin, id: 2)
        #expect(Override.active([newer, older], at: start)[id("alpha")]?.action == .pin)
        #expect(Override.active([older, newer], at: start)[id("alpha")]?.action == .pin)
    }

    @Test func operatorDemotingEveryEndpointStands() {
        var engine = engine()
        engine.setOverrides(providers.enumerated().map { override($0.element, .demote, id: Int64($0.offset + 1)) })
        let epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override)
        #expect(epoch.ranking(for: Build.model)!.endpoints.allSatisfy { $0.status == .demoted })
        #expect(epoch.ranking(for: Build.model)!.reasons == [ReasonCode.allEndpointsDegraded])
    }

    @Test func rulesAloneNeverDemoteEveryoneEvenBesideAnOperatorDemotion() {
        // Two endpoints: the operator demotes one, the rules the other; the rules' one is published ok.
        var engine = MemoryRanking(policy: .default, endpoints: ["alpha", "beta", "gamma"].map { Build.endpoint($0) }, now: start)
        for provider in ["alpha", "beta", "gamma"] {
            let failEvery = provider == "gamma" ? 2 : 0
            for observation in Build.observations(id(provider), count: 200, end: start.adding(seconds: 599), failEvery: failEvery) {
                _ = engine.record(observation)
            }
        }
        engine.setOverrides([override("alpha", .demote), override("beta", .disable, id: 2)])
        let epoch = engine.computeEpoch(now: start.adding(seconds: 600), trigger: .override)
        #expect(engine.demotions[id("gamma")]?.isDemoted == true, "the rules demoted gamma")
        #expect(entries(epoch)["alpha"]!.status == .demoted)
        #expect(entries(epoch)["gamma"]!.status == .ok, "but gamma is the only one left to route to")
        #expect(entries(epoch)["gamma"]!.reasons.contains(ReasonCode.allEndpointsDegraded))
    }

    // MARK: Parsing

    func parse(_ json: [String: JSONValue]) -> Result<OverrideRequest, RouteRequestParser.FieldErrors> {
        OverrideRequestParser.parse(.object(json), now: start)
    }

    func fields(_ json: [String: JSONValue]) -> [String] {
        guard case .failure(let errors) = parse(json) else { return [] }
        return errors.errors.map(\.field)
    }

    @Test func validRequestIsRead() throws {
        let request = try parse([
            "endpoint_id": .string(id("alpha")), "action": .string("demote"), "note": .string("  paging  "),
            "expires_in_seconds": .number(3600), "author": .string("ana"),
        ]).get()
        #expect(request.action == .demote)
        #expect(request.note == "paging")
        #expect(request.expiresAt(now: start) == start.adding(seconds: 3600))
        let absolute = try parse([
            "endpoint_id": .string(id("alpha")), "action": .string("pin"), "note": .string("x"),
            "expires_at": .string(RFC3339.format(start.adding(seconds: 60))),
        ]).get()
        #expect(absolute.expiresAt(now: start) == start.adding(seconds: 60))
    }

    @Test func everyProblemNamesItsField() {
        #expect(fields([:]) == ["endpoint_id", "action", "note", "expires_in_seconds"])
        #expect(
            fields(["endpoint_id": .string("a"), "action": .string("ban"), "note": .string("x"), "expires_in_seconds": .number(60)])
                == ["action"])
        #expect(
            fields(["endpoint_id": .string("a"), "action": .string("pin"), "note": .string(" "), "expires_in_seconds": .number(60)])
                == ["note"])
        #expect(
            fields(["endpoint_id": .string("a"), "action": .string("pin"), "note": .string("x"), "expires_in_seconds": .number(-1)])
                == ["expires_in_seconds"])
        #expect(
            fields([
                "endpoint_id": .string("a"), "action": .string("pin"), "note": .string("x"), "expires_in_seconds": .number(31 * 86_400),
            ])
                == ["expires_in_seconds"])
        #expect(
            fields([
                "endpoint_id": .string("a"), "action": .string("pin"), "note": .string("x"),
                "expires_at": .string(RFC3339.format(start.adding(seconds: -5))),
            ]) == ["expires_at"])
        #expect(
            fields([
                "endpoint_id": .string("a"), "action": .string("pin"), "note": .string("x"), "expires_in_seconds": .number(60),
                "expires_at": .string("2026-01-01T00:00:00Z"),
            ]) == ["expires_at"])
        #expect(
            fields([
                "endpoint_id": .string("a"), "action": .string("pin"), "note": .string("x"), "expires_in_seconds": .number(60),
                "ttl": .number(1),
            ])
                == ["ttl"])
        #expect(
            fields(["endpoint_id": .number(3), "action": .string("pin"), "note": .string("x"), "expires_in_seconds": .number(60)]) == [
                "endpoint_id"
            ])
    }
}
