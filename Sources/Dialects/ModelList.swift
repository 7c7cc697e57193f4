public import NIOCore
import SwitchboardCore

/// Renders the list of models a key may use, in the asking client's shape.
public enum ModelList {
    /// The shape to answer in.
    public enum Shape: Sendable {
        /// `{object:"list", data:[{id, object:"model", created, owned_by}]}`
        case openAI
        /// `{data:[{type:"model", id, display_name, created_at}], has_more, first_id, last_id}`
        case anthropic
    }

    /// One listed model.
    public struct Entry: Sendable, Equatable {
        /// The model name clients ask for.
        public var id: String
        /// Who serves it (the provider name).
        public var ownedBy: String
        /// Creates an entry.
        public init(id: String, ownedBy: String) {
            self.id = id
            self.ownedBy = ownedBy
        }
    }

    /// The response body listing `entries` (already sorted and unique).
    public static func body(_ entries: [Entry], shape: Shape) -> ByteBuffer {
        switch shape {
        case .openAI:
            let items = entries.map {
                #"{"id":\#(jsonStringLiteral($0.id)),"object":"model","created":0,"owned_by":\#(jsonStringLiteral($0.ownedBy))}"#
            }
            return ByteBuffer(string: #"{"object":"list","data":[\#(items.joined(separator: ","))]}"#)
        case .anthropic:
            let items = entries.map {
                #"{"type":"model","id":\#(jsonStringLiteral($0.id)),"display_name":\#(jsonStringLiteral($0.id)),"created_at":"1970-01-01T00:00:00Z"}"#
            }
            let first = entries.first.map { jsonStringLiteral($0.id) } ?? "null"
            let last = entries.last.map { jsonStringLiteral($0.id) } ?? "null"
            return ByteBuffer(string: #"{"data":[\#(items.joined(separator: ","))],"has_more":false,"first_id":\#(first),"last_id":\#(last)}"#)
        }
    }
}
