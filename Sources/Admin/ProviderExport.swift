import Engine
import Foundation
import Storage
import SwitchboardCore

/// Which provider's export a file is.
public enum ExportProvider: String, Sendable, CaseIterable {
    case openai, anthropic
}

/// Reads a provider's usage or cost export into daily usage by model: OpenAI's
/// usage API (`/v1/organization/usage/completions`, `group_by=model`) and costs
/// API (`/v1/organization/costs`, `group_by=line_item`) JSON, Anthropic's usage
/// report (`/v1/organizations/usage_report/messages`, `group_by[]=model`) and
/// cost report (`/v1/organizations/cost_report`, amounts in cents) JSON, or a
/// CSV with a header naming date, model and token (and cost) columns. Every
/// number is checked: a negative, fractional or huge count is refused, never
/// turned into a wrong total.
public enum ProviderExport {
    /// The largest export read.
    public static let maxBytes = 64 << 20

    public static func parse(_ data: Data, provider: ExportProvider) throws(AdminError) -> [DailyUsage] {
        guard data.count <= maxBytes else { throw AdminError(.invalid, "the export is larger than \(maxBytes >> 20) MiB") }
        let text = String(decoding: data, as: UTF8.self)
        if text.drop(while: \.isWhitespace).first == "{" {
            guard let root = JSONValue.object(from: data) else { throw AdminError(.invalid, "the export is not valid JSON") }
            return try json(root, provider: provider)
        }
        return try csv(text, provider: provider)
    }

    // MARK: JSON

    static func json(_ root: [String: JSONValue], provider: ExportProvider) throws(AdminError) -> [DailyUsage] {
        guard case .array(let buckets)? = root["data"] else {
            throw AdminError(.invalid, "the export has no \"data\" list of time buckets (is it the usage or cost API's answer?)")
        }
        var lines: [DailyUsage] = []
        for (index, bucket) in buckets.enumerated() {
            guard case .object(let fields) = bucket, case .array(let results)? = fields["results"] else {
                throw AdminError(.invalid, "data[\(index)] is not a time bucket with results")
            }
            let day = try bucketDay(fields, at: "data[\(index)]")
            for (position, result) in results.enumerated() {
                guard case .object(let item) = result else { throw AdminError(.invalid, "data[\(index)].results[\(position)] is not an object") }
                if let line = try usage(item, day: day, provider: provider, at: "data[\(index)].results[\(position)]") { lines.append(line) }
            }
        }
        return lines
    }

    /// A bucket's UTC day: OpenAI's `start_time` (Unix seconds), Anthropic's `starting_at`.
    static func bucketDay(_ bucket: [String: JSONValue], at path: String) throws(AdminError) -> String {
        if case .number(let seconds)? = bucket["start_time"], seconds.rounded() == seconds, (0...253_402_300_799).contains(seconds) {
            return WireDate.utcDay(Date(timeIntervalSince1970: seconds))
        }
        if case .string(let text)? = bucket["starting_at"], let date = WireDate.rfc3339(text) { return WireDate.utcDay(date) }
        throw AdminError(.invalid, "\(path) has no start_time or starting_at")
    }

    /// One result: usage (tokens) or cost (an amount), or nil for one that is neither (a web search fee).
    static func usage(_ item: [String: JSONValue], day: String, provider: ExportProvider, at path: String) throws(AdminError) -> DailyUsage? {
        func count(_ name: String, in object: [String: JSONValue]? = nil) throws(AdminError) -> Int64 {
            switch (object ?? item)[name] {
            case nil, .null?: return 0
            case .number(let value)? where value.rounded() == value && value >= 0 && value < 9e15: return Int64(value)
            default: throw AdminError(.invalid, "\(path).\(name) must be a whole number of tokens")
            }
        }
        func text(_ name: String) -> String? {
            if case .string(let value)? = item[name], !value.isEmpty { return value }
            return nil
        }
        if item["uncached_input_tokens"] != nil {  // Anthropic's usage report
            var line = DailyUsage(day: day, model: text("model") ?? "(all models)")
            line.input = try count("uncached_input_tokens")
            line.cacheRead = try count("cache_read_input_tokens")
            if case .object(let creation)? = item["cache_creation"] {
                line.cacheWrite = try count("ephemeral_5m_input_tokens", in: creation).saturatingAdd(
                    try count("ephemeral_1h_input_tokens", in: creation))
            }
            line.output = try count("output_tokens")
            return line
        }
        if item["input_tokens"] != nil {  // OpenAI's usage API: input counts the cached tokens too
            var line = DailyUsage(day: day, model: text("model") ?? "(all models)")
            let input = try count("input_tokens")
            line.cacheRead = try count("input_cached_tokens")
            guard line.cacheRead <= input else { throw AdminError(.invalid, "\(path).input_cached_tokens is more than input_tokens") }
            line.input = input - line.cacheRead
            line.output = try count("output_tokens")
            line.requests = try count("num_model_requests")
            return line
        }
        switch (provider, item["amount"]) {
        case (.openai, .object(let amount)?):  // OpenAI's costs API: dollars, the model leading line_item
            guard case .number(let value)? = amount["value"], let money = Money(dollars: value) else {
                throw AdminError(.invalid, "\(path).amount.value must be a number of dollars")
            }
            try usd(amount["currency"], at: path)
            var line = DailyUsage(day: day, model: text("line_item").map { String($0.prefix { $0 != "," }) } ?? "(all models)")
            line.cost = money
            return line
        case (.anthropic, .string(let amount)?):  // Anthropic's cost report: cents, as decimal text
            guard let cents = Money(dollars: amount) else { throw AdminError(.invalid, "\(path).amount must be a decimal amount of cents") }
            try usd(item["currency"], at: path)
            guard text("cost_type") == nil || text("cost_type") == "tokens" else { return nil }
            var line = DailyUsage(day: day, model: text("model") ?? "(all models)")
            line.cost = Money(picos: cents.picos / 100)
            return line
        default:
            throw AdminError(.invalid, "\(path) is neither usage nor cost of a \(provider.rawValue) export")
        }
    }

    static func usd(_ currency: JSONValue?, at path: String) throws(AdminError) {
        guard case .string(let code)? = currency, code.lowercased() == "usd" else {
            throw AdminError(.invalid, "\(path) is not in US dollars")
        }
    }

    // MARK: CSV

    /// Column names each field may go by (lowercase).
    static let columns: [(field: String, names: [String])] = [
        ("day", ["date", "day", "start_time", "starting_at"]), ("model", ["model"]),
        ("input", ["input_tokens", "uncached_input_tokens", "input"]),
        ("cache_read", ["cache_read_tokens", "cache_read_input_tokens", "input_cached_tokens", "cache_read"]),
        ("cache_write", ["cache_write_tokens", "cache_creation_input_tokens", "cache_write"]),
        ("output", ["output_tokens", "output"]), ("requests", ["requests", "num_model_requests"]),
        ("cost", ["cost_usd", "cost", "amount_usd"]),
    ]

    static func csv(_ text: String, provider: ExportProvider) throws(AdminError) -> [DailyUsage] {
        var rows = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !rows.isEmpty else { throw AdminError(.invalid, "the export is empty") }
        let header = cells(rows.removeFirst()).map { $0.lowercased() }
        var index: [String: Int] = [:]
        for (field, names) in columns {
            if let position = header.firstIndex(where: names.contains) { index[field] = position }
        }
        guard index["day"] != nil, index["model"] != nil, index["input"] != nil || index["output"] != nil || index["cost"] != nil else {
            throw AdminError(
                .invalid, "the CSV header must name a date, a model and token or cost columns (got \(header.prefix(12).joined(separator: ", ")))")
        }
        var lines: [DailyUsage] = []
        for (number, row) in rows.enumerated() {
            let values = cells(row)
            func value(_ field: String) -> String? {
                guard let position = index[field], position < values.count else { return nil }
                let value = values[position].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            func count(_ field: String) throws(AdminError) -> Int64 {
                guard let text = value(field) else { return 0 }
                guard let parsed = Int64(text), parsed >= 0 else {
                    throw AdminError(.invalid, "line \(number + 2): \(field) must be a whole number of tokens")
                }
                return parsed
            }
            guard let rawDay = value("day"), let date = WireDate.rfc3339(rawDay.count == 10 ? rawDay + "T00:00:00Z" : rawDay) else {
                throw AdminError(.invalid, "line \(number + 2): the date must read as 2026-12-01 or an RFC 3339 time")
            }
            var line = DailyUsage(day: WireDate.utcDay(date), model: value("model") ?? "(all models)")
            let input = try count("input")
            line.cacheRead = try count("cache_read")
            // OpenAI counts cached tokens within input_tokens; Anthropic does not.
            if provider == .openai, header[index["input"] ?? 0] == "input_tokens" {
                guard line.cacheRead <= input else { throw AdminError(.invalid, "line \(number + 2): cached tokens are more than input_tokens") }
                line.input = input - line.cacheRead
            } else {
                line.input = input
            }
            line.cacheWrite = try count("cache_write")
            line.output = try count("output")
            if index["requests"] != nil { line.requests = try count("requests") }
            if let cost = value("cost") {
                guard let money = Money(dollars: cost.hasPrefix("$") ? String(cost.dropFirst()) : cost), money >= .zero else {
                    throw AdminError(.invalid, "line \(number + 2): the cost must be an amount of dollars")
                }
                line.cost = money
            }
            lines.append(line)
        }
        return lines
    }

    /// A CSV line's cells (RFC 4180 quoting).
    static func cells(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var quoted = false
        var chars = line.makeIterator()
        var pending: Character? = nil
        while let char = pending ?? chars.next() {
            pending = nil
            if quoted {
                if char == "\"" {
                    let next = chars.next()
                    if next == "\"" {
                        current.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    current.append(char)
                }
            } else if char == "\"" {
                quoted = true
            } else if char == "," {
                cells.append(current)
                current = ""
            } else {
                current.append(char)
            }
        }
        cells.append(current)
        return cells
    }
}
