public import NIOCore
public import SwitchboardCore

/// Renders the list of models a key may use, in the asking client's shape.
public enum ModelList {
    /// The shape to answer in.
    public enum Shape: Sendable {
        /// `{object:"list", data:[{id, object:"model", created, owned_by}]}`
        case openAI
        /// `{data:[{type:"model", id, display_name, created_at}], has_more, first_id, last_id}`
        case anthropic
        /// `{models:[{name:"models/…", displayName, supportedGenerationMethods}]}`
        case gemini

        /// The shape a dialect's clients expect.
        public init(_ dialect: Dialect) {
            switch dialect {
            case .openAIChat, .openAIResponses: self = .openAI
            case .anthropicMessages: self = .anthropic
            case .gemini: self = .gemini
            }
        }
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

    /// One model in a shape's own form.
    static func item(_ entry: Entry, shape: Shape) -> String {
        let id = jsonStringLiteral(entry.id)
        switch shape {
        case .openAI:
            return #"{"id":\#(id),"object":"model","created":0,"owned_by":\#(jsonStringLiteral(entry.ownedBy))}"#
        case .anthropic:
            return #"{"type":"model","id":\#(id),"display_name":\#(id),"created_at":"1970-01-01T00:00:00Z"}"#
        case .gemini:
            return #"{"name":\#(jsonStringLiteral(GeminiModelName.resource(entry.id))),"displayName":\#(id),"#
                + #""supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]}"#
        }
    }

    /// The body describing one model.
    public static func single(_ entry: Entry, shape: Shape) -> ByteBuffer { ByteBuffer(string: item(entry, shape: shape)) }

    /// The response body listing `entries` (already sorted and unique).
    public static func body(_ entries: [Entry], shape: Shape) -> ByteBuffer {
        let items = entries.map { item($0, shape: shape) }
        switch shape {
        case .openAI:
            return ByteBuffer(string: #"{"object":"list","data":[\#(items.joined(separator: ","))]}"#)
        case .anthropic:
            let first = entries.first.map { jsonStringLiteral($0.id) } ?? "null"
            let last = entries.last.map { jsonStringLiteral($0.id) } ?? "null"
            return ByteBuffer(string: #"{"data":[\#(items.joined(separator: ","))],"has_more":false,"first_id":\#(first),"last_id":\#(last)}"#)
        case .gemini:
            return ByteBuffer(string: #"{"models":[\#(items.joined(separator: ","))]}"#)
        }
    }
}
