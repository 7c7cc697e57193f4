import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SwitchboardCore
import Synchronization

/// A webhook alerts go to.
public struct AlertWebhook: Sendable, Equatable {
    public var url: String
    /// Signs each body: `X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    public var secret: String
    /// The events it takes.
    public var events: Set<AlertEvent>

    public init(url: String, secret: String, events: Set<AlertEvent> = Set(AlertEvent.allCases)) {
        self.url = url
        self.secret = secret
        self.events = events
    }
}

/// Alert settings (`alerts:` in the config file).
public struct AlertSettings: Sendable, Equatable {
    public var webhooks: [AlertWebhook] = []
    /// How often the monitor looks.
    public var interval: Duration = .seconds(30)
    /// How many accounts of one model cooling at once make a storm.
    public var stormAccounts = 3
    /// Waits before each retry of a delivery that failed; after the last, the alert is dead-lettered.
    public var retryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]

    public init() {}
}

/// Counts of alert deliveries, for `/admin/stats`.
public final class AlertCounters: Sendable {
    let delivered = Atomic<Int>(0)
    let deadLetters = Atomic<Int>(0)

    public init() {}

    public var deliveredCount: Int { delivered.load(ordering: .relaxed) }
    /// Alerts no attempt could deliver.
    public var deadLetterCount: Int { deadLetters.load(ordering: .relaxed) }
}

/// Posts alerts to webhooks as signed JSON, retrying with backoff on the
/// gateway's clock; what still fails is counted as a dead letter and logged
/// (the URL's host only: a URL may carry a token).
struct AlertSender: Sendable {
    let settings: AlertSettings
    let client: HTTPClient
    let clock: any GatewayClock
    let counters: AlertCounters
    let logger: Logger

    /// The body of an alert (stable field order).
    static func body(_ alert: Alert, id: String, time: Date) -> Data {
        let object: [String: Any] = [
            "id": id, "event": alert.event.rawValue, "subject": alert.subject, "message": alert.message,
            "time": ISO8601DateFormatter().string(from: time), "details": alert.details,
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
    static func signature(_ body: Data, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Sends `alert` to every webhook that takes its event.
    func send(_ alert: Alert) async {
        let id = "evt_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let body = Self.body(alert, id: id, time: clock.now())
        await withTaskGroup(of: Void.self) { group in
            for webhook in settings.webhooks where webhook.events.contains(alert.event) {
                group.addTask { await deliver(body, event: alert.event, to: webhook) }
            }
        }
    }

    private func deliver(_ body: Data, event: AlertEvent, to webhook: AlertWebhook) async {
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "switchboard-alerts")
        request.headers.add(name: "x-switchboard-event", value: event.rawValue)
        request.headers.add(name: "x-switchboard-signature", value: Self.signature(body, secret: webhook.secret))
        request.body = .bytes(ByteBuffer(bytes: body))
        var failure = ""
        for (attempt, delay) in ([Duration.zero] + settings.retryDelays).enumerated() {
            if attempt > 0 {
                do { try await clock.sleep(for: delay) } catch { return }  // shutting down
            }
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) {
                    counters.delivered.add(1, ordering: .relaxed)
                    return
                }
                failure = "status \(response.status.code)"
            } catch {
                failure = "\(type(of: error))"
            }
        }
        counters.deadLetters.add(1, ordering: .relaxed)
        logger.warning(
            "an alert could not be delivered",
            metadata: ["event": "\(event.rawValue)", "host": "\(URL(string: webhook.url)?.host ?? "?")", "last_failure": "\(failure)"])
    }
}
