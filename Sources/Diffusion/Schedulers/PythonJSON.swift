import Foundation

/// JSON as Python's json module writes it: diffusers saves configs with bare `Infinity`,
/// `-Infinity` and `NaN` (e.g. DPM-Solver's "lambda_min_clipped": -Infinity), which strict JSON
/// parsers reject. Those three words, outside strings, are read as the strings "Infinity",
/// "-Infinity" and "NaN"; `PythonJSON.double` turns them back into numbers.
enum PythonJSON {
    static func object(from data: Data) -> [String: Any]? {
        let text = String(decoding: data, as: UTF8.self)
        let strict = quoteNonFiniteNumbers(text)
        return (try? JSONSerialization.jsonObject(with: Data(strict.utf8))) as? [String: Any]
    }

    static func double(_ value: Any) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        switch value as? String {
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        case "NaN": return .nan
        default: return nil
        }
    }

    static func quoteNonFiniteNumbers(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var inString = false, escaped = false, i = 0
        while i < scalars.count {
            let c = scalars[i]
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                out.append(c); i += 1; continue
            }
            if c == "\"" { inString = true; out.append(c); i += 1; continue }
            var matched = false
            for word in ["-Infinity", "Infinity", "NaN"] {
                let w = Array(word.unicodeScalars)
                if i + w.count <= scalars.count && Array(scalars[i..<(i + w.count)]) == w {
                    out.append(contentsOf: "\"\(word)\"".unicodeScalars)
                    i += w.count
                    matched = true
                    break
                }
            }
            if !matched { out.append(c); i += 1 }
        }
        return String(out)
    }
}
