import Admin
import Engine
import Foundation
import Policy
import Storage
import SwitchboardCore

/// Turns admin views into the values the console's templates show: text
/// already formatted, links already encoded, absent values as empty text.
enum ConsolePages {
    /// `2026-12-05 10:00:00` (UTC), or empty.
    static func time(_ date: Date?) -> String {
        guard let date else { return "" }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
    }

    /// A name as one path segment of a link.
    static func path(_ name: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%")
        return name.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A value for a query string.
    static func query(_ value: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#%")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func dashboard(_ board: Dashboard) -> [String: Any] {
        let total = board.total
        let short = board.period == .hour || board.period == .day
        func label(_ date: Date) -> String {
            let text = time(date)
            return short ? String(text.dropFirst(11).prefix(5)) : String(text.prefix(16))
        }
        func chart(_ title: String, _ value: (ActivityBucket) -> (Double, String)) -> String {
            SVGChart.bars(
                board.buckets.map { bucket in
                    let (number, text) = value(bucket)
                    return SVGChart.Bar(label: label(bucket.start), value: number, text: text)
                }, title: title)
        }
        let hasRequests = total.requests > 0
        func ms(_ value: Int64?) -> String { value.map { "\($0) ms" } ?? "–" }
        return [
            "periods": DashboardPeriod.allCases.map { ["name": $0.rawValue, "current": $0 == board.period] },
            "requests": "\(total.requests)", "errors": "\(total.errors)",
            "errorRate": total.requests > 0 ? String(format: "%.1f%%", Double(total.errors) * 100 / Double(total.requests)) : "0%",
            "tokens": "\(total.tokens)", "spend": total.cost.dollarsString,
            "p50": ms(board.latency.p50LatencyMs), "p95": ms(board.latency.p95LatencyMs),
            "fb50": ms(board.latency.p50FirstByteMs), "fb95": ms(board.latency.p95FirstByteMs),
            "requestsChart": hasRequests
                ? chart("Requests per interval") { (Double($0.requests), "\($0.requests) requests") } : SVGChart.bars([], title: ""),
            "errorsChart": hasRequests ? chart("Errors per interval") { (Double($0.errors), "\($0.errors) errors") } : SVGChart.bars([], title: ""),
            "tokensChart": hasRequests ? chart("Tokens per interval") { (Double($0.tokens), "\($0.tokens) tokens") } : SVGChart.bars([], title: ""),
            "latencyChart": hasRequests
                ? chart("Mean latency per interval") { bucket in
                    let mean = bucket.requests > 0 ? bucket.latencyMsTotal / bucket.requests : 0
                    return (Double(mean), "\(mean) ms mean over \(bucket.requests) requests")
                } : SVGChart.bars([], title: ""),
            "spendChart": hasRequests
                ? chart("Spend per interval") { (Double($0.cost.picos) / 1e12, "$" + $0.cost.dollarsString) } : SVGChart.bars([], title: ""),
            "accountStates": board.accountStates.map { ["state": $0.state, "count": "\($0.count)"] },
            "topKeys": board.topKeys.map { ["name": $0.name, "requests": "\($0.requests)", "cost": $0.cost.dollarsString] },
            "topModels": board.topModels.map { ["name": $0.name, "requests": "\($0.requests)", "cost": $0.cost.dollarsString] },
        ]
    }

    static func keyRow(_ key: KeyView) -> [String: Any] {
        [
            "name": key.name, "path": path(key.name), "key": key.key, "state": key.state, "user": key.user ?? "",
            "inFlight": key.usage.inFlight.map(String.init) ?? "0", "today": key.usage.todayCostUsd, "total": key.usage.totalCostUsd,
            "tokens": "\(key.usage.totalTokens)", "balance": key.usage.balanceRemainingUsd.map { "$" + $0 } ?? "",
            "lastUsed": time(key.lastUsedAt),
        ]
    }

    /// Address rules in a sentence.
    static func addresses(allow: [String]?, deny: [String]?) -> String {
        let allowed = allow.map { $0.isEmpty ? "none allowed" : "only " + $0.joined(separator: ", ") } ?? "any"
        guard let deny, !deny.isEmpty else { return allowed }
        return allowed + "; never " + deny.joined(separator: ", ")
    }

    /// The key page: facts, the edit form's current values, actions.
    static func key(_ key: KeyView, stats: UsageStatsView, recent: RequestPage) -> [String: Any] {
        var page = keyRow(key)
        page["source"] = key.source
        page["createdAt"] = time(key.createdAt)
        page["enabled"] = key.state != "disabled"
        page["balanceLeft"] = key.usage.balanceRemainingUsd.map { "$" + $0 } ?? "no balance set"
        page["query"] = query(key.name)
        page["description"] = key.description ?? ""
        page["models"] = (key.models ?? []).joined(separator: ", ")
        page["clients"] = (key.clients ?? []).joined(separator: ", ")
        page["pools"] = (key.pools ?? []).joined(separator: ", ")
        page["accounts"] = (key.accounts ?? []).joined(separator: ", ")
        page["fallbackToShared"] = key.fallbackToShared == true
        page["ipAllow"] = (key.ipAllow ?? []).joined(separator: ", ")
        page["ipDeny"] = (key.ipDeny ?? []).joined(separator: ", ")
        page["addresses"] = addresses(allow: key.ipAllow, deny: key.ipDeny)
        page["concurrency"] = key.concurrency.map(String.init) ?? ""
        page["tokenLimit"] = key.tokenLimit.map { String($0) } ?? ""
        page["dailyCost"] = key.dailyCostUsd ?? ""
        page["weeklyCost"] = key.weeklyCostUsd ?? ""
        page["monthlyCost"] = key.monthlyCostUsd ?? ""
        page["balance"] = key.balanceUsd ?? ""
        page["budget"] = key.budgetUsd ?? ""
        page["budgetDuration"] = key.budgetDuration ?? ""
        page["modelBudgets"] = document(key.modelBudgets)
        page["budgetState"] =
            key.budgetUsd.map { budget in
                let spent = "$\(key.usage.budgetSpentUsd ?? "0") of $\(budget)"
                return key.usage.budgetResetsAt.map { "\(spent) until \(time($0))" } ?? "\(spent) (no period: for the key's life)"
            } ?? "none"
        page["usageReset"] = key.usageResetAt.map { "\(time($0)): \((key.usageReset ?? []).joined(separator: ", "))" } ?? "never"
        page["expiresAt"] = key.expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? ""
        page["chart"] = SVGChart.bars(
            stats.series.map { SVGChart.Bar(label: WireDate.utcDay($0.start), value: Double($0.costUsd) ?? 0, text: "$" + $0.costUsd) },
            title: "Spend by day")
        page["byModel"] = (stats.models ?? []).map { model -> [String: Any] in
            [
                "model": model.model, "requests": "\(model.requests)", "tokens": "\(model.tokens.total)", "cost": model.costUsd,
                "input": model.listCostUsd.input, "cacheRead": model.listCostUsd.cacheRead,
                "cacheWrite":
                    (Money(dollars: model.listCostUsd.cacheWrite5m).map { $0 + (Money(dollars: model.listCostUsd.cacheWrite1h) ?? .zero) } ?? .zero)
                    .dollarsString,
                "output": model.listCostUsd.output,
            ]
        }
        page["p95"] = stats.p95LatencyMs.map { "\($0) ms" } ?? "none yet"
        page["cache"] =
            stats.cacheHitRatio.map { ratio in
                "\(Int((ratio * 100).rounded())) % of prompt tokens read from cache, saving $\(stats.cacheSavedUsd) at list price"
            } ?? "no prompt tokens yet"
        page["rows"] = recent.requests.map(requestRow)
        return page
    }

    static func requestRow(_ request: RequestView) -> [String: Any] {
        [
            "time": time(request.createdAt), "id": request.requestId, "path": path(request.requestId), "key": request.key ?? "",
            "model": request.model ?? "", "account": request.account ?? "", "status": "\(request.status)", "outcome": request.outcome,
            "tokens":
                "\(request.tokens.input.saturatingAdd(request.tokens.cacheRead).saturatingAdd(request.tokens.cacheWrite5m).saturatingAdd(request.tokens.cacheWrite1h).saturatingAdd(request.tokens.output))",
            "cost": request.costUsd, "latency": "\(request.latencyMs)",
        ]
    }

    static func request(_ request: RequestView) -> [String: Any] {
        var page = requestRow(request)
        page["account"] = request.account  // absent when no account served: the attempt list then has no "served" line
        page["user"] = request.user ?? ""
        page["dialect"] = request.dialect
        page["stream"] = request.stream
        page["upstreamModel"] = request.upstreamModel ?? ""
        page["provider"] = request.provider ?? ""
        page["selection"] = request.selection ?? "–"
        page["errorCode"] = request.errorCode ?? ""
        page["input"] = "\(request.tokens.input)"
        page["cacheRead"] = "\(request.tokens.cacheRead)"
        page["cacheWrite5m"] = "\(request.tokens.cacheWrite5m)"
        page["cacheWrite1h"] = "\(request.tokens.cacheWrite1h)"
        page["output"] = "\(request.tokens.output)"
        page["reasoning"] = "\(request.tokens.reasoning)"
        page["usageSource"] = request.usageSource
        page["usageIncomplete"] = request.usageIncomplete
        page["upstreamCost"] = request.upstreamCostUsd
        page["firstByte"] = request.firstByteMs.map { "\($0) ms" } ?? "–"
        page["upstream"] = request.upstreamMs.map { "\($0) ms" } ?? "not sent upstream"
        page["added"] = request.upstreamMs.map { "\(max(0, request.latencyMs - $0)) ms" } ?? "–"
        page["clientAddress"] = request.clientAddress ?? "unknown address"
        page["userAgent"] = request.userAgent ?? "no User-Agent"
        page["hops"] = request.route.map { ["account": $0.account, "reason": $0.reason] }
        return page
    }

    static func accountRow(_ account: AccountView) -> [String: Any] {
        let live = account.live
        return [
            "name": account.name, "path": path(account.name), "provider": account.provider.rawValue,
            "state": live?.state ?? (account.enabled ? "unknown" : "disabled"), "reason": live?.reason ?? "",
            "inFlight": "\(live?.inFlight ?? 0)", "waiting": "\(live?.waiting ?? 0)",
            "rpm": "\(live?.windowRequests ?? 0)" + (account.maxRpm.map { " / \($0)" } ?? ""),
            "tpm": "\(live?.windowTokens ?? 0)" + (account.maxTpm.map { " / \($0)" } ?? ""),
            "priority": "\(account.priority)", "lastError": live?.lastError ?? "",
        ]
    }

    static func account(_ account: AccountView) -> [String: Any] {
        var page = accountRow(account)
        let live = account.live
        page["enabled"] = account.enabled
        if let until = live?.cooldownUntil, let at = account.liveAt {
            let left = max(0, Int(until.timeIntervalSince(at).rounded(.up)))
            page["cooldownUntil"] = "\(time(until)) (\(left) s left; \(live?.cooldownCause ?? "cooldown"))"
        } else {
            page["cooldownUntil"] = "not cooling down"
        }
        page["totalRequests"] = "\(live?.totalRequests ?? 0)"
        page["totalFailures"] = "\(live?.totalFailures ?? 0)"
        page["lastErrorAt"] = time(live?.lastErrorAt)
        page["secret"] = account.secret == "ok" ? "sealed, opens" : account.secret
        page["baseURL"] = account.baseURL
        page["models"] = account.models.joined(separator: ", ")
        page["maxRpm"] = account.maxRpm.map(String.init) ?? ""
        page["maxTpm"] = account.maxTpm.map(String.init) ?? ""
        page["maxConcurrency"] = account.maxConcurrency.map(String.init) ?? ""
        page["weight"] = String(account.weight)
        page["headers"] = document(account.headers)
        page["bodyOverrides"] = document(account.bodyOverrides)
        page["pools"] = (account.pools ?? []).joined(separator: ", ")
        page["modelList"] = (account.modelList ?? []).joined(separator: ", ")
        page["authHeader"] = account.authHeader ?? ""
        page["deployment"] = account.deployment ?? ""
        page["apiVersion"] = account.apiVersion ?? ""
        page["banPatterns"] = (account.banPatterns ?? []).joined(separator: ", ")
        page["proxy"] = account.proxy ?? ""
        page["notes"] = account.notes
        return page
    }

    static func aliasRow(_ alias: AliasView) -> [String: Any] {
        [
            "name": alias.name, "path": path(alias.name),
            "targets": alias.targets.map { target in target.weight.map { "\(target.model) (weight \($0))" } ?? target.model }
                .joined(separator: " → "),
            "maxFailovers": alias.maxFailovers.map(String.init) ?? "default",
        ]
    }

    static func quarantineRow(_ quarantine: QuarantineView) -> [String: Any] {
        [
            "id": String(quarantine.id), "createdAt": time(quarantine.createdAt), "scope": quarantine.scope, "key": quarantine.key,
            "account": quarantine.account, "signal": quarantine.signal, "requestID": quarantine.requestId,
        ]
    }

    static func users(_ users: [UserView], groups: [GroupView]) -> [String: Any] {
        [
            "users": users.map {
                [
                    "name": $0.name, "path": path($0.name), "group": $0.group ?? "", "balance": $0.balanceUsd.map { "$" + $0 } ?? "",
                    "remaining": $0.remainingUsd.map { "$" + $0 } ?? "", "spent": $0.spentUsd,
                    "concurrency": $0.concurrency.map { "\($0)" } ?? "", "modelBudgets": document($0.modelBudgets),
                ]
            },
            "groups": groups.map {
                [
                    "name": $0.name, "path": path($0.name), "multiplier": $0.multiplier, "perModel": document($0.priceMultiplier),
                    "daily": $0.subscription?.dailyUsd.map { "$" + $0 } ?? "", "weekly": $0.subscription?.weeklyUsd.map { "$" + $0 } ?? "",
                    "monthly": $0.subscription?.monthlyUsd.map { "$" + $0 } ?? "",
                ]
            },
        ]
    }

    /// An account's last 24 hours: requests and 429s by hour, p95, the last 429.
    static func accountStats(_ stats: UsageStatsView) -> [String: Any] {
        [
            "hourChart": SVGChart.bars(
                stats.series.map {
                    SVGChart.Bar(
                        label: String(ISO8601DateFormatter().string(from: $0.start).dropFirst(11).prefix(5)), value: Double($0.requests),
                        text: "\($0.requests) requests, \($0.rateLimited) answered 429")
                }, title: "Requests by hour (UTC)"),
            "dayRequests": "\(stats.requests)", "dayErrors": "\(stats.errors)", "day429": "\(stats.rateLimited)",
            "dayP95": stats.p95LatencyMs.map { "\($0) ms" } ?? "none yet",
            "dayCache": stats.cacheHitRatio.map { "\(Int(($0 * 100).rounded())) %" } ?? "none", "last429": stats.last429At.map(time) ?? "never",
            "daySaved": stats.cacheSavedUsd,
        ]
    }

    static func sessionRow(_ session: SessionView) -> [String: Any] {
        [
            "lastAt": time(session.lastAt), "session": session.session, "short": String(session.session.prefix(12)),
            "quarantined": session.quarantined, "key": session.key ?? "", "accounts": session.accounts.joined(separator: ", "),
            "requests": "\(session.requests)", "hit": session.cacheHitRatio.map { "\(Int(($0 * 100).rounded())) %" } ?? "none",
            "cacheRead": "\(session.tokens.cacheRead)", "cacheWrite": "\(session.tokens.cacheWrite5m.saturatingAdd(session.tokens.cacheWrite1h))",
            "saved": session.cacheSavedUsd, "cost": session.costUsd,
        ]
    }

    static func providerRow(_ provider: ProviderView) -> [String: Any] {
        ["provider": provider.provider, "maxFailovers": provider.maxFailovers.map(String.init) ?? "no cap of its own"]
    }

    /// A settings map (model budgets, multipliers per model) as the JSON an admin types, sorted; empty for none.
    static func document(_ value: (some Encodable)?) -> String {
        guard let value, let data = try? AdminJSON.encode(value, pretty: false) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    static func usageRow(_ row: UsageTotals) -> [String: Any] {
        [
            "name": row.name, "requests": "\(row.requests)", "errors": "\(row.errors)", "input": "\(row.inputTokens)",
            "cacheRead": "\(row.cacheReadTokens)", "cacheWrite": "\(row.cacheWriteTokens)", "output": "\(row.outputTokens)",
            "cost": row.cost.dollarsString,
        ]
    }
}

extension ConsolePages {
    /// An audit entry's row: what changed, setting by setting.
    static func auditRow(_ entry: AuditView) -> [String: Any] {
        [
            "time": time(entry.time), "who": entry.who, "source": entry.source, "address": entry.address ?? "", "action": entry.action,
            "target": entry.target, "changes": changes(before: entry.before, after: entry.after),
        ]
    }

    /// `daily_cost_usd: none → 5; state: active → disabled`; `created` or `deleted` for a whole record.
    static func changes(before: JSONValue?, after: JSONValue?) -> String {
        guard case .object(let old)? = before else { return after == nil ? "" : "created" }
        guard case .object(let new)? = after else { return "deleted" }
        // Live usage changes with every request: not an admin's change.
        let changed = Set(old.keys).union(new.keys).subtracting(["usage", "live", "live_at", "remaining_usd", "spent_usd"]).sorted()
            .filter { old[$0] != new[$0] }
        return changed.map { "\($0): \(text(old[$0])) → \(text(new[$0]))" }.joined(separator: "; ")
    }

    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return "none"
        case .string(let text)?: return text
        case .bool(let flag)?: return flag ? "true" : "false"
        case .number(let number)?: return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .array(let items)?: return "[" + items.map { text($0) }.joined(separator: ", ") + "]"
        case .object(let fields)?: return "{" + fields.keys.sorted().map { "\($0): \(text(fields[$0]))" }.joined(separator: ", ") + "}"
        }
    }
}

extension ConsolePages {
    /// A policy simulation's result, key by key.
    static func simulation(_ report: PolicySimulation.Report) -> [String: Any] {
        [
            "requests": "\(report.requests)", "refused": "\(report.refused)", "recorded": report.recordedCostUsd,
            "simulated": report.simulatedCostUsd,
            "keys": report.keys.map { key -> [String: Any] in
                [
                    "key": key.key, "requests": "\(key.requests)", "admitted": "\(key.admitted)", "queued": "\(key.queued)",
                    "refused": key.refused.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "),
                    "recorded": key.recordedCostUsd, "simulated": key.simulatedCostUsd, "peak": "\(key.peakConcurrency)",
                ]
            },
        ]
    }

    /// The last reconciliation, line by line, with its total last.
    static func reconciliation(_ report: ReconciliationReport) -> [String: Any] {
        func line(_ line: ReconciliationReport.Line) -> [String: Any] {
            [
                "day": line.day, "model": line.model, "ledgerTokens": line.ledger.tokens, "providerTokens": line.provider.tokens,
                "driftTokens": line.driftTokens, "driftPercent": line.driftPercent ?? "–", "ledgerUsd": line.ledger.costUsd ?? "–",
                "providerUsd": line.provider.costUsd ?? "–", "driftUsd": line.driftUsd ?? "–",
            ]
        }
        return [
            "provider": report.provider, "account": report.account ?? "every account", "from": report.from, "to": report.to,
            "createdAt": time(report.createdAt), "lines": (report.lines + [report.total]).map(line),
        ]
    }
}

extension ConsolePages {
    /// A page's filters as a query string (for a link to the same view or its next page).
    static func queryString(_ parameters: [String: String], cursor: String? = nil) -> String {
        var kept = parameters
        if let cursor { kept["cursor"] = cursor }
        return kept.sorted { $0.key < $1.key }.map { "\($0.key)=\(query($0.value))" }.joined(separator: "&")
    }
}
