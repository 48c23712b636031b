/// Turns decoded records into observations of registry endpoints, refusing what cannot be counted
/// exactly once (outside the dedupe window, stamped in the future) and reporting records of
/// unknown models or providers by name rather than dropping them silently.
public struct TelemetryResolver: Sendable {
    private let endpointIDs: Set<String>
    private let byModelAndProvider: [String: [String: String]]
    private let models: Set<String>

    public init(endpoints: [Endpoint]) {
        endpointIDs = Set(endpoints.map(\.id))
        var index: [String: [String: String]] = [:]
        for endpoint in endpoints { index[endpoint.model, default: [:]][endpoint.provider] = endpoint.id }
        byModelAndProvider = index
        models = Set(endpoints.map(\.model))
    }

    public struct Accepted: Hashable, Sendable {
        public var index: Int
        public var requestID: String
        public var observation: Observation
    }

    public struct Resolution: Sendable {
        public var accepted: [Accepted] = []
        public var rejected: [RecordRejection] = []
        /// Records of endpoints not in the registry, by `model provider` (or endpoint id).
        public var unknownEndpoints: [String: Int] = [:]

        public init() {}
    }

    public func resolve(
        _ records: [(index: Int, record: TelemetryRecord)], now: Timestamp, rule: Policy.Ingest
    ) -> Resolution {
        var result = Resolution()
        result.accepted.reserveCapacity(records.count)
        let oldest = now.adding(seconds: -rule.dedupeWindowSeconds)
        let latest = now.adding(seconds: rule.futureToleranceSeconds)
        for (index, record) in records {
            let endpointID: String
            if let id = record.endpointID {
                guard endpointIDs.contains(id) else {
                    result.rejected.append(
                        RecordRejection(index: index, field: "endpoint_id", reason: "unknown endpoint \(id): not in the registry"))
                    result.unknownEndpoints[id, default: 0] += 1
                    continue
                }
                endpointID = id
            } else {
                let model = record.model ?? ""
                let provider = record.provider ?? ""
                guard let id = byModelAndProvider[model]?[provider] else {
                    let known = models.contains(model)
                    result.rejected.append(
                        RecordRejection(
                            index: index, field: known ? "provider" : "model",
                            reason: known
                                ? "unknown provider \(provider) for \(model): not in the registry"
                                : "unknown model \(model): not in the registry"))
                    result.unknownEndpoints["\(model) \(provider)", default: 0] += 1
                    continue
                }
                endpointID = id
            }
            if record.time > latest {
                result.rejected.append(
                    RecordRejection(
                        index: index, field: "timestamp",
                        reason:
                            "is \(Int(saturating: record.time.seconds(since: now))) s in the future (more than \(Int(saturating: rule.futureToleranceSeconds)) s): check the gateway's clock"
                    ))
                continue
            }
            if record.time < oldest {
                result.rejected.append(
                    RecordRejection(
                        index: index, field: "timestamp",
                        reason:
                            "is older than the dedupe window (\(Int(rule.dedupeWindowSeconds)) s), so it could not be counted exactly once")
                )
                continue
            }
            result.accepted.append(
                Accepted(index: index, requestID: record.requestID, observation: record.observation(endpointID: endpointID)))
        }
        return result
    }
}
