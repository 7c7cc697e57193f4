import NIOCore
import SwitchboardCore

/// An account's `body_overrides`: top-level fields of the upstream body set to
/// fixed values (`store: false`), every other byte left as it was. A body that
/// is not a JSON object is left alone.
public enum BodyOverrides {
    /// Fields an override may not set: the gateway reads them to route, stream and bill.
    public static let reserved: Set<String> = ["model", "stream", "stream_options"]

    /// `body` with `overrides` (field name → JSON text) spliced in.
    public static func apply(_ overrides: [(name: String, json: String)], to body: ByteBuffer) -> ByteBuffer {
        guard !overrides.isEmpty else { return body }
        let edits: [BodyEdit]? = body.withUnsafeReadableBytes { bytes -> [BodyEdit]? in
            let reader = JSONReader(bytes)
            guard let root = try? reader.validateDocument(), root.kind == .object else { return nil }
            var edits: [BodyEdit] = []
            var inserted = ""
            for (name, json) in overrides {
                if let span = reader.member(name, of: root) {
                    edits.append(BodyEdit(range: span.start..<span.end, replacement: json))
                } else {
                    inserted += jsonStringLiteral(name) + ":" + json + ","
                }
            }
            if !inserted.isEmpty {
                // Just after the opening brace, with a comma only when something follows.
                let text = reader.isEmptyContainer(root) ? String(inserted.dropLast()) : inserted
                edits.append(BodyEdit(range: (root.start + 1)..<(root.start + 1), replacement: text))
            }
            return edits
        }
        return edits.map { BodyEdit.apply($0, to: body) } ?? body
    }
}
