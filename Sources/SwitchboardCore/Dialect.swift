/// The API shape a client speaks; errors and streams are rendered in it.
public enum Dialect: String, Sendable, CaseIterable {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    case openAIChat = "openai_chat"
    /// Anthropic Messages (`/v1/messages`).
    case anthropicMessages = "anthropic_messages"
    /// OpenAI Responses (`/v1/responses`): typed stream events, no `[DONE]`.
    case openAIResponses = "openai_responses"
    /// Gemini `generateContent` (`/v1beta/models/{model}:…`): the model is in the path.
    case gemini = "gemini"

    /// Whether errors take OpenAI's `{"error":{message,type,param,code}}` shape.
    public var isOpenAI: Bool { self == .openAIChat || self == .openAIResponses }
}

/// Gemini's resource names for models: `models/{name}` in bodies and paths.
public enum GeminiModelName {
    /// The bare name, without a `models/` prefix a client, a map or a path may carry.
    public static func bare(_ name: String) -> String {
        name.hasPrefix("models/") ? String(name.dropFirst("models/".count)) : name
    }

    /// The resource name, `models/{name}`.
    public static func resource(_ name: String) -> String { "models/" + bare(name) }
}

/// The kind of upstream provider an account belongs to.
public enum Provider: String, Sendable, CaseIterable, Codable {
    /// OpenAI or any OpenAI-compatible base URL.
    case openai
    /// Anthropic's Messages API.
    case anthropic
    /// Google's Gemini API.
    case gemini
    /// Azure OpenAI: OpenAI's Chat Completions under a deployment's path, an
    /// `api-version` query and an `api-key` header.
    case azure

    /// The wire format it speaks: Azure's is OpenAI's.
    public var family: Provider { self == .azure ? .openai : self }

    /// Whether this provider speaks a client dialect itself, so requests in it
    /// pass through with only the model renamed.
    public func speaks(_ dialect: Dialect) -> Bool {
        switch (self, dialect) {
        case (.openai, .openAIChat), (.openai, .openAIResponses), (.anthropic, .anthropicMessages), (.gemini, .gemini), (.azure, .openAIChat):
            return true
        default: return false
        }
    }

    /// The API root used when an account names none.
    public var defaultBaseURL: String {
        switch self {
        case .openai: return "https://api.openai.com/v1"
        case .anthropic: return "https://api.anthropic.com"
        case .gemini: return "https://generativelanguage.googleapis.com"
        // Each Azure resource has its own host: an account must name it.
        case .azure: return ""
        }
    }
}
