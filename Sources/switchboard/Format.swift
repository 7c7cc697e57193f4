import Foundation

/// Plain output for the admin commands.
enum Format {
    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func printJSON(_ value: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    static func printTable(_ rows: [[String: String]], columns: [String]) {
        guard !rows.isEmpty else { return print("(none)") }
        let widths = columns.map { column in max(column.count, rows.map { ($0[column] ?? "").count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        print(line(columns.map { $0.uppercased() }))
        for row in rows { print(line(columns.map { row[$0] ?? "" })) }
    }
}
