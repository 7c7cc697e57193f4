/// The API shape a client speaks; errors and streams are rendered in it.
public enum Dialect: String, Sendable, CaseIterable {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    case openAIChat = "openai_chat"
    /// Anthropic Messages (`/v1/messages`).
    case anthropicMessages = "anthropic_messages"
}

/// The kind of upstream provider an account belongs to.
public enum Provider: String, Sendable, CaseIterable, Codable {
    /// OpenAI or any OpenAI-compatible base URL.
    case openai
    /// Anthropic's Messages API.
    case anthropic
    /// Google's Gemini API.
    case gemini

    /// The dialect this provider speaks natively, where the gateway relays it today.
    public var nativeDialect: Dialect? {
        switch self {
        case .openai: return .openAIChat
        case .anthropic: return .anthropicMessages
        case .gemini: return nil
        }
    }

    /// The API root used when an account names none.
    public var defaultBaseURL: String {
        switch self {
        case .openai: return "https://api.openai.com/v1"
        case .anthropic: return "https://api.anthropic.com"
        case .gemini: return "https://generativelanguage.googleapis.com"
        }
    }
}
