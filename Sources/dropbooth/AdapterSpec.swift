/// "FILE[:SCALE]" as `--lora` and `merge-lora` take it: a colon followed by a number splits off
/// the scale; any other colon is part of the file name. The scale is kept as typed (a Double,
/// so that metadata says 0.8 and not 0.800000011920929); nil when none was given.
func splitAdapterSpec(_ spec: String) -> (path: String, scale: Double?) {
    if let colon = spec.lastIndex(of: ":"), let scale = Double(spec[spec.index(after: colon)...]) {
        return (String(spec[..<colon]), scale)
    }
    return (spec, nil)
}
