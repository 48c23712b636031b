import Foundation
import RankdCore
import RankdDaemonTestKit
import RankdServer
import Testing

/// The way a fresh daemon goes to its first informed epoch (scoring/README.md section 7).
@Suite struct ColdStartTests {
    let deadline = Timestamp(secondsSince1970: 1_767_225_630)

    @Test func theRoundCompletesWhenEveryEndpointWasProbedAndOnlyTheRequestedEpochIsInformed() async {
        let coldStart = ColdStart(endpoints: 3, probing: true, deadline: deadline)
        #expect(coldStart.snapshot.phase == .firstProbeRound)
        #expect(!coldStart.published(epochID: 1), "the start-up epoch is not the informed one")
        coldStart.probed(1)
        coldStart.probed(2)
        coldStart.probed(1)  // a late, smaller count never lowers it
        #expect(coldStart.snapshot.probed == 2)
        let waiter = Task { await coldStart.firstRoundComplete() }
        coldStart.probed(3)
        await waiter.value  // returns: the round is complete
        #expect(!coldStart.published(epochID: 2), "an epoch published before the informed one was asked for")
        coldStart.requestInformedEpoch()
        #expect(coldStart.published(epochID: 3))
        #expect(coldStart.snapshot.phase == .informed && coldStart.snapshot.informedEpochID == 3)
        #expect(!coldStart.published(epochID: 4), "only the first")
    }

    @Test(arguments: [(0, true), (4, false)])
    func withoutEndpointsOrProbingThereIsNoRoundToWaitFor(endpoints: Int, probing: Bool) async {
        let coldStart = ColdStart(endpoints: endpoints, probing: probing, deadline: deadline)
        #expect(coldStart.snapshot.phase == .noProbing)
        await coldStart.firstRoundComplete()  // returns at once
        coldStart.requestInformedEpoch()
        #expect(!coldStart.published(epochID: 2))
    }
}
