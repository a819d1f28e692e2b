#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Read access to one folder of a job, such that nothing in the folder can point the service
/// elsewhere. The folder is opened once (O_NOFOLLOW, O_DIRECTORY) and every file is opened
/// relative to that descriptor with O_NOFOLLOW: a symlink, or a folder swapped for a symlink
/// between listing and reading, is refused rather than followed. Sizes are checked with
/// fstat on the opened file before reading, so a file that grows cannot make us read more.
final class JobFolder {
    enum Kind: Equatable { case regular(size: Int), directory, symlink, other(String) }
    struct Entry { var name: String; var kind: Kind }

    enum ReadFailure: Error, Equatable {
        case symlink, notRegular(String), tooLarge(size: Int), unreadable(String)
    }

    private let fd: Int32
    /// For messages: the folder as the user knows it ("" for the job root, "class/").
    let displayName: String

    /// Opens `subfolder` (one plain name, or nil for the root) of `job`. Throws a sentence.
    init(job: URL, subfolder: String?) throws(PreflightProblem) {
        let jobFD = Glibc.open(job.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard jobFD >= 0 else {
            throw PreflightProblem("the job folder \(job.path) cannot be opened: \(JobFolder.errnoWords(errno)) (it must be a real folder, not a symbolic link)")
        }
        guard let sub = subfolder, !sub.isEmpty else { fd = jobFD; displayName = ""; return }
        defer { Glibc.close(jobFD) }
        guard !sub.contains("/"), sub != ".", sub != "..", !sub.hasPrefix(".") else {
            throw PreflightProblem("the sub-folder name \"\(sub)\" is not a plain folder name inside the job folder")
        }
        let subFD = openat(jobFD, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard subFD >= 0 else {
            let e = errno
            if e == ELOOP || e == ENOTDIR {
                throw PreflightProblem("\(sub)/ is not a folder inside the job folder (symbolic links are refused)")
            }
            throw PreflightProblem("\(sub)/ cannot be opened: \(JobFolder.errnoWords(e))")
        }
        fd = subFD
        displayName = sub + "/"
    }

    deinit { Glibc.close(fd) }

    /// Lists entries (without "." and ".."), at most `limit`; nil when there are more.
    func entries(limit: Int) -> [Entry]? {
        // fdopendir takes ownership of the descriptor it is given, so list through a duplicate.
        let listFD = dup(fd)
        guard listFD >= 0, let dir = fdopendir(listFD) else { return [] }
        defer { closedir(dir) }
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

    func kind(of name: String) -> Kind {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return .other("cannot be examined: \(JobFolder.errnoWords(errno))") }
        return JobFolder.kind(st)
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
    func read(_ name: String, maxBytes: Int) -> Result<[UInt8], ReadFailure> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it).
        let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard file >= 0 else {
            let e = errno
            return .failure(e == ELOOP ? .symlink : .unreadable(JobFolder.errnoWords(e)))
        }
        defer { Glibc.close(file) }
        var st = stat()
        guard fstat(file, &st) == 0 else { return .failure(.unreadable(JobFolder.errnoWords(errno))) }
        if case .other(let what) = JobFolder.kind(st) { return .failure(.notRegular(what)) }
        if (st.st_mode & S_IFMT) == S_IFDIR { return .failure(.notRegular("a folder")) }
        let size = Int(st.st_size)
        if size > maxBytes { return .failure(.tooLarge(size: size)) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return .failure(.unreadable(JobFolder.errnoWords(errno))) }
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

/// A reason the whole folder cannot be used, as a sentence.
struct PreflightProblem: Error { var message: String; init(_ m: String) { message = m } }
