import HTTPTypes

extension HTTPFields {
    /// A field's value as `self[name]` gives it (the values of a repeated field
    /// joined), without the array, the join and the unspecialized generic code
    /// that subscript costs on every call: read for every request (its
    /// `Content-Length`, twice, and its key), it was 1.3% of a request's CPU.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            // Repeated: rare, and joined as the subscript joins them.
            guard found == nil else { return self[name] }
            found = field.value
        }
        return found
    }
}
