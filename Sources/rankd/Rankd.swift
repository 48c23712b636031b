import ArgumentParser

/// `rankd`: the provider ranking daemon and its tools.
@main
struct Rankd: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "rankd",
        abstract: "Quality-weighted provider ranking daemon for LLM gateways.",
        version: version,
        subcommands: [
            Serve.self, Demo.self, CheckConfig.self, Rankings.self, History.self, Probe.self, MockProviderCommand.self, Ingest.self, ReplayCommand.self,
        ])
}
