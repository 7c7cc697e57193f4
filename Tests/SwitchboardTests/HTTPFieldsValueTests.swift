import HTTPTypes
import Testing

@testable import HTTPServer

/// `HTTPFields.value` reads a field as the fields' own subscript does, without its cost.
@Suite struct HTTPFieldsValueTests {
    @Test func aFieldReadsAsTheSubscriptReadsIt() {
        var fields = HTTPFields()
        fields[.contentLength] = "42"
        fields.append(HTTPField(name: .authorization, value: "Bearer a"))
        fields.append(HTTPField(name: .authorization, value: "Bearer b"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        fields.append(HTTPField(name: HTTPField.Name("X-Api-Key")!, value: "sk-1"))
        let names: [HTTPField.Name] = [.contentLength, .authorization, .cookie, HTTPField.Name("x-api-key")!, .contentType]
        for name in names {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(fields.value(.contentLength) == "42")
        #expect(fields.value(.authorization) == "Bearer a, Bearer b")
        #expect(fields.value(.cookie) == "a=1; b=2")
        #expect(fields.value(HTTPField.Name("x-api-key")!) == "sk-1")
        #expect(fields.value(.contentType) == nil)
    }
}
