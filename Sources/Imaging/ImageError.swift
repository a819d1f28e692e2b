/// Why an image could not be used, in words a person who dropped the file can act on.
/// `description` is the sentence shown in reports ("truncated: the file ends before the
/// image does").
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file holds no bytes at all.
    case empty
    /// The bytes are not a JPEG or PNG; `detected` names what they look like, when known
    /// (HEIC, WebP, GIF, text, …).
    case notAnImage(detected: String?)
    /// An image format we recognise but do not read.
    case unsupported(String)
    /// The file ends before the image does (an interrupted copy or download).
    case truncated(String)
    /// The data is damaged.
    case corrupt(String)
    /// More pixels than the limit; found from the header, before decoding.
    case tooManyPixels(width: Int, height: Int, limit: Int)
    /// The file is larger than the byte limit; found before reading it.
    case tooManyBytes(size: Int, limit: Int)
    /// Encoding failed (should not happen with valid input).
    case encodeFailed(String)

    public var description: String {
        switch self {
        case .empty: return "empty file (zero bytes)"
        case .notAnImage(let detected):
            if let detected { return "not a JPEG or PNG image (looks like \(detected))" }
            return "not an image (neither JPEG nor PNG)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .truncated(let detail): return "truncated: the file ends before the image does (\(detail))"
        case .corrupt(let detail): return "corrupt image data (\(detail))"
        case .tooManyPixels(let w, let h, let limit):
            return "too large: \(w)x\(h) = \(w * h) pixels, the limit is \(limit)"
        case .tooManyBytes(let size, let limit):
            return "too large: \(size) bytes, the limit is \(limit) bytes"
        case .encodeFailed(let detail): return "could not encode the image (\(detail))"
        }
    }
}
