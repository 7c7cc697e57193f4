/// Bar charts as inline SVG, drawn on the server: no script, and each bar
/// carries a `<title>` with its label and value, so a screen reader (and a
/// mouse) can read the numbers, not just the picture.
enum SVGChart {
    /// One bar: its label (a time), the height it stands for, and that value as text.
    struct Bar {
        var label: String
        var value: Double
        var text: String
    }

    static let width = 640.0
    static let height = 160.0
    static let bottom = 20.0

    /// A chart of `bars` titled `title`; an empty chart says so.
    static func bars(_ bars: [Bar], title: String) -> String {
        let escapedTitle = HTMLText.escape(title)
        guard !bars.isEmpty else {
            return #"<p class="empty">No requests in this period.</p>"#
        }
        let top = max(bars.map(\.value).max() ?? 0, 1e-12)
        let slot = width / Double(bars.count)
        let barWidth = max(1, slot * 0.8)
        var svg =
            #"<svg class="chart" viewBox="0 0 \#(Int(width)) \#(Int(height))" role="img" aria-label="\#(escapedTitle)" xmlns="http://www.w3.org/2000/svg">"#
        svg += "<title>\(escapedTitle)</title>"
        svg += #"<line x1="0" y1="\#(height - bottom)" x2="\#(width)" y2="\#(height - bottom)" class="axis"/>"#
        for (index, bar) in bars.enumerated() {
            let barHeight = max(0, bar.value / top) * (height - bottom - 14)
            let x = Double(index) * slot + (slot - barWidth) / 2
            let y = height - bottom - barHeight
            svg += #"<rect x="\#(format(x))" y="\#(format(y))" width="\#(format(barWidth))" height="\#(format(barHeight))" class="bar">"#
            svg += "<title>\(HTMLText.escape(bar.label)): \(HTMLText.escape(bar.text))</title></rect>"
        }
        if let first = bars.first, let last = bars.last {
            svg += #"<text x="0" y="\#(height - 4)" class="label">\#(HTMLText.escape(first.label))</text>"#
            svg += #"<text x="\#(width)" y="\#(height - 4)" class="label" text-anchor="end">\#(HTMLText.escape(last.label))</text>"#
        }
        let peak = bars.max { $0.value < $1.value }?.text ?? ""
        svg += #"<text x="0" y="10" class="label">max \#(HTMLText.escape(peak))</text>"#
        return svg + "</svg>"
    }

    private static func format(_ value: Double) -> String {
        String(Int((value * 10).rounded())) == "0" ? "0" : String(Double(Int((value * 10).rounded())) / 10)
    }
}

/// Escapes text for HTML element content and quoted attributes.
enum HTMLText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
