import Foundation
import NIOCore
import RankdCore
import RankdTestKit
import Testing

@testable import RankdServer

@Suite struct EpochJSONTests {
    /// The spliced bodies (each model's entries encoded once) are byte for byte what encoding the
    /// whole answer gives, for `GET /v1/rankings` and for every model.
    @Test func splicedBodiesEqualWholeEncodings() throws {
        let now = Timestamp(secondsSince1970: 1_767_225_600)
        // Three models, one with a non-ASCII slug; failing endpoints give reasons and demotions.
        let endpoints =
            ["a", "b", "c"].map { Build.endpoint($0) } + ["a", "b"].map { Build.endpoint($0, model: "acme/solo-1") }
            + ["x", "y"].map { Build.endpoint($0, model: "zeta/broken-\u{e9}") }
        var engine = RankingEngine(policy: .default, endpoints: endpoints, now: now)
        for endpoint in endpoints {
            let broken = endpoint.model.hasPrefix("zeta") || endpoint.provider == "c"
            for o in Build.observations(endpoint.id, count: 200, end: now, spanSeconds: 300, failEvery: broken ? 2 : 0) {
                _ = engine.record(o)
            }
        }
        var epoch = engine.computeEpoch(now: now.adding(seconds: 60), trigger: .scheduled)
        #expect(epoch.models.count == 3)
        // A model-level reason, as an epoch gives when every endpoint of a model looks bad.
        epoch.models[2].reasons = [ReasonCode.allEndpointsDegraded]
        let bodies = try EpochJSON.bodies(epoch)
        #expect(Array(bodies.all.readableBytesView) == Array(try EpochJSON.all(epoch)))
        for ranking in epoch.models {
            let body = try #require(bodies.models[ranking.model])
            #expect(Array(body.joined.readableBytesView) == Array(try EpochJSON.model(ranking, epoch: epoch)), "\(ranking.model)")
            #expect(body.byteCount == body.joined.readableBytes)
        }
        #expect(bodies.models.count == 3)
    }
}
