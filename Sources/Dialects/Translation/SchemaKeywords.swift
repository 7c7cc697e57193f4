/// Where a JSON (or OpenAPI) schema holds the client's own words rather than
/// schema keywords: translation rewrites keywords and must leave these alone.
enum SchemaKeywords {
    /// Keywords whose values map the client's names (properties, definitions,
    /// patterns) to schemas: the names are kept, the schemas read.
    static let maps: Set<String> = ["properties", "$defs", "definitions", "defs", "patternProperties", "dependentSchemas"]
    /// Keywords whose values are the client's values, not schemas.
    static let values: Set<String> = [
        "enum", "required", "propertyOrdering", "example", "examples", "default", "const", "title", "description", "format", "pattern",
    ]
}
