#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Read access to one folder of a job (photos dropped by anyone who can write the share), such
/// that nothing in the folder can point the service elsewhere. Preflight lists and reads
/// through it, and training reads the accepted images through it again. The folder is opened once,
/// one path component at a time (O_NOFOLLOW, O_DIRECTORY), and every file is opened
/// relative to that descriptor with O_NOFOLLOW: a symlink, or a folder swapped for a symlink
/// between listing and reading, is refused rather than followed. Sizes are checked with
/// fstat on the opened file before reading, so a file that grows cannot make us read more.
public final class UntrustedFolder {
    public enum Kind: Equatable, Sendable { case regular(size: Int), directory, symlink, other(String) }
    public struct Entry: Sendable { public var name: String; public var kind: Kind }

    public enum ReadFailure: Error, Equatable, Sendable, CustomStringConvertible {
        case symlink, notRegular(String), tooLarge(size: Int, limit: Int), unreadable(String)

        /// The failure as a sentence for a report.
        public var description: String {
            switch self {
            case .symlink: return "symbolic link: refused (only regular files inside the job folder are read)"
            case .notRegular(let what): return "\(what): refused (only regular files are read)"
            case .tooLarge(let size, let limit): return ImageError.tooManyBytes(size: size, limit: limit).description
            case .unreadable(let why): return "cannot be read: \(why)"
            }
        }
    }

    /// Why the folder itself cannot be opened, as a sentence.
    public struct OpenError: Error, Sendable { public var message: String; init(_ m: String) { message = m } }

    private let fd: Int32
    /// For messages: the folder as the user knows it ("" for the job root, "class/", "rex/class/").
    public let displayName: String

    /// Opens `subfolder` of `job`: nil (or "") for the job folder itself, else a relative path
    /// such as `class` or `rex/class` (a multi-subject job's default class folder). Each
    /// component is opened in turn relative to the one before, with O_NOFOLLOW | O_DIRECTORY,
    /// so a symlink at any level is refused rather than followed, and `..`, hidden and
    /// absolute names are refused before anything is opened. Throws a sentence.
    public init(job: URL, subfolder: String?) throws(OpenError) {
        let jobFD = Glibc.open(job.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard jobFD >= 0 else {
            throw OpenError("the job folder \(job.path) cannot be opened: \(UntrustedFolder.errnoWords(errno)) (it must be a real folder, not a symbolic link)")
        }
        guard let sub = subfolder, !sub.isEmpty else { fd = jobFD; displayName = ""; return }
        let components: [String]
        do { components = try UntrustedFolder.components(of: sub) } catch {
            Glibc.close(jobFD)
            throw error
        }
        var current = jobFD
        for (depth, component) in components.enumerated() {
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let e = errno
            let parentKind = next < 0 ? UntrustedFolder.kind(of: component, in: current) : nil
            Glibc.close(current)
            guard next >= 0 else {
                let reached = components[...depth].joined(separator: "/") + "/"
                let inside = depth == 0 ? "the job folder" : components[..<depth].joined(separator: "/") + "/"
                switch parentKind {
                case .some(.symlink):
                    throw OpenError("\(reached) is a symbolic link inside \(inside): refused (folders of a job must be real folders)")
                case .some(.regular), .some(.other):
                    throw OpenError("\(reached) is not a folder inside \(inside)")
                default:
                    throw OpenError("\(reached) cannot be opened: \(UntrustedFolder.errnoWords(e))")
                }
            }
            current = next
        }
        fd = current
        displayName = components.joined(separator: "/") + "/"
    }

    /// `sub` split into folder names: "./a//b/" → ["a", "b"]. Refuses absolute paths and any
    /// `..` or hidden (dot) component, the ways a name could leave or hide in the job folder.
    static func components(of sub: String) throws(OpenError) -> [String] {
        guard !sub.hasPrefix("/") else {
            throw OpenError("the sub-folder \"\(sub)\" is an absolute path; it must be a folder inside the job folder")
        }
        let parts = sub.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
        if parts.contains("..") {
            throw OpenError("the sub-folder \"\(sub)\" contains \"..\"; it must be a folder inside the job folder")
        }
        if let hidden = parts.first(where: { $0.hasPrefix(".") }) {
            throw OpenError("the sub-folder \"\(sub)\" names the hidden folder \"\(hidden)\", which the service ignores")
        }
        guard !parts.isEmpty else {
            throw OpenError("the sub-folder \"\(sub)\" is not a folder name inside the job folder")
        }
        return parts
    }

    /// What `name` in the folder open as `dirFD` is, without following a symlink (nil when it
    /// cannot be examined): to say why opening it as a folder failed.
    private static func kind(of name: String, in dirFD: Int32) -> Kind? {
        var st = stat()
        guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return kind(st)
    }

    deinit { Glibc.close(fd) }

    /// Lists entries (without "." and ".."), at most `limit`; nil when there are more.
    public func entries(limit: Int) -> [Entry]? {
        // fdopendir takes ownership of the descriptor it is given, so list through a duplicate.
        let listFD = dup(fd)
        guard listFD >= 0, let dir = fdopendir(listFD) else { return [] }
        defer { closedir(dir) }
        // The duplicate shares its read position with `fd`: start from the top every time.
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
            if names.count > limit { return nil }
        }
        return names.map { Entry(name: $0, kind: kind(of: $0)) }
    }

    public func kind(of name: String) -> Kind {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return .other("cannot be examined: \(UntrustedFolder.errnoWords(errno))") }
        return UntrustedFolder.kind(st)
    }

    static func kind(_ st: stat) -> Kind {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(st.st_size))
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFIFO: return .other("a named pipe (FIFO)")
        case S_IFSOCK: return .other("a socket")
        case S_IFCHR, S_IFBLK: return .other("a device file")
        default: return .other("not a regular file")
        }
    }

    /// Reads a whole regular file of at most `maxBytes`, never following a symlink.
    public func read(_ name: String, maxBytes: Int) -> Result<[UInt8], ReadFailure> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it).
        let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard file >= 0 else {
            let e = errno
            return .failure(e == ELOOP ? .symlink : .unreadable(UntrustedFolder.errnoWords(e)))
        }
        defer { Glibc.close(file) }
        var st = stat()
        guard fstat(file, &st) == 0 else { return .failure(.unreadable(UntrustedFolder.errnoWords(errno))) }
        if case .other(let what) = UntrustedFolder.kind(st) { return .failure(.notRegular(what)) }
        if (st.st_mode & S_IFMT) == S_IFDIR { return .failure(.notRegular("a folder")) }
        let size = Int(st.st_size)
        if size > maxBytes { return .failure(.tooLarge(size: size, limit: maxBytes)) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(.unreadable(UntrustedFolder.errnoWords(errno))) }
            if n == 0 { break }  // shrank while reading: what we have is what there is
            done += n
        }
        return .success(Array(bytes.prefix(done)))
    }

    static func errnoWords(_ code: Int32) -> String {
        switch code {
        case EACCES, EPERM: return "permission denied"
        case ENOENT: return "it does not exist"
        case ELOOP: return "it is a symbolic link"
        case ENOTDIR: return "it is not a folder"
        default: return String(cString: strerror(code))
        }
    }
}

extension ImageDecoder {
    /// Reads `name` from an untrusted folder (no symlinks, size checked before reading) and
    /// decodes it: the path training takes for each image preflight accepted.
    public static func decode(fileNamed name: String, in folder: UntrustedFolder,
                              limits: ImageLimits = ImageLimits()) throws(ImageReadError) -> DecodedImage {
        switch folder.read(name, maxBytes: limits.maxBytes) {
        case .failure(let failure): throw .file(failure)
        case .success(let bytes):
            do { return try decode(bytes, limits: limits) } catch { throw .image(error) }
        }
    }
}

/// Reading or decoding an image file failed; `description` is the sentence for the report.
public enum ImageReadError: Error, Equatable, Sendable, CustomStringConvertible {
    case file(UntrustedFolder.ReadFailure)
    case image(ImageError)
    public var description: String {
        switch self {
        case .file(let failure): return failure.description
        case .image(let error): return error.description
        }
    }
}
