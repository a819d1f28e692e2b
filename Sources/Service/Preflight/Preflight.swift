import Foundation
import Imaging

/// The first phase of every job (and the whole job with `dry_run: true`): decode every image
/// exactly as training will, and tell the user what the model will see and what was refused.
public enum Preflight {
    /// Contact sheets show at most this many tiles (a 1000-image job would make a sheet of
    /// hundreds of megapixels); the report says when some were left out.
    static let maxContactSheetTiles = 200

    /// Scans `jobDirectory` (or its `options.subfolder`), never following symlinks or leaving
    /// the folder, and returns accepted images, rejected files with reasons, a contact sheet
    /// and a run estimate. Never throws: every problem is in the report (`problem` when the
    /// job cannot go on). Deterministic: files are taken in byte order of their names.
    public static func run(jobDirectory: URL, options: PreflightOptions) -> PreflightReport {
        var report = PreflightReport(folder: options.subfolder ?? "")
        guard options.resolution >= 8, options.resolution <= 8192 else {
            report.problem = "resolution \(options.resolution) is outside 8...8192 pixels"
            return report
        }
        let folder: UntrustedFolder
        do { folder = try UntrustedFolder(job: jobDirectory, subfolder: options.subfolder) } catch {
            report.problem = error.message
            return report
        }
        let place = folder.displayName.isEmpty ? "the job folder" : folder.displayName
        guard let listed = folder.entries(limit: options.maxDirectoryEntries) else {
            report.problem = "\(place) holds more than \(options.maxDirectoryEntries) entries; a job may hold at most that many files"
            return report
        }
        let entries = listed.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        let names = Set(entries.map(\.name))
        let transform = TrainingTransform(resolution: options.resolution, centerCrop: options.centerCrop)
        let limits = ImageLimits(maxBytes: options.maxImageBytes, maxPixels: options.maxImagePixels)
        var tiles: [ImageGrid.Tile] = []
        var ignored: [String] = []
        var upscaled: [String] = []
        var mostlyCropped: [String] = []

        for entry in entries {
            switch JobFileName(entry.name) {
            case .hidden, .recipe, .caption: continue
            case .editorTemp, .partialUpload: ignored.append(entry.name); continue
            case .candidate: break
            }
            switch entry.kind {
            case .symlink:
                report.reject(entry.name, "symbolic link: refused (only regular files inside the job folder are read)")
                continue
            case .directory:
                if folder.displayName.isEmpty && entry.name == "class" { continue }
                if options.separateSubfolders.contains(entry.name) { continue }
                report.reject(entry.name, "a folder: sub-folders are not read\(folder.displayName.isEmpty ? " (except class/ for prior-preservation images)" : "")")
                continue
            case .other(let what):
                report.reject(entry.name, "\(what): refused (only regular files are read)")
                continue
            case .regular: break
            }
            if report.accepted.count >= options.maxImages {
                report.reject(entry.name, "over the limit of \(options.maxImages) images per job (files are taken in name order)")
                continue
            }
            let bytes: [UInt8]
            switch folder.read(entry.name, maxBytes: options.maxImageBytes) {
            case .success(let b): bytes = b
            case .failure(let failure):
                report.reject(entry.name, failure.description)
                continue
            }
            let decoded: DecodedImage
            do { decoded = try ImageDecoder.decode(bytes, limits: limits) } catch {
                report.reject(entry.name, error.description)
                continue
            }
            let header = decoded.header, image = decoded.image
            if min(image.width, image.height) < options.resolution { upscaled.append("\(entry.name) (\(image.width)x\(image.height))") }
            if transform.keptFraction(width: image.width, height: image.height) < 0.5 {
                mostlyCropped.append("\(entry.name) (\(image.width)x\(image.height))")
            }
            var caption: String? = nil
            for captionName in JobFileName.captionNames(for: entry.name) where names.contains(captionName) {
                switch readCaption(captionName, in: folder, maxBytes: options.maxCaptionBytes) {
                case .success(let text): caption = text
                case .failure(let why): report.notes.append("caption \(captionName) ignored: \(why.message)")
                }
                break
            }
            report.accepted.append(.init(
                fileName: entry.name, format: header.format.rawValue,
                storedWidth: header.width, storedHeight: header.height,
                width: image.width, height: image.height,
                exifOrientation: header.orientation.rawValue, caption: caption))
            if options.makeContactSheet && tiles.count < maxContactSheetTiles {
                let seen = transform.apply(image)
                let side = max(16, options.contactSheetTileSize)
                tiles.append(.init(image: seen.resized(width: side, height: side), caption: entry.name))
            }
        }

        if !ignored.isEmpty {
            report.notes.append("ignored as temporary or partial uploads: \(ignored.prefix(20).joined(separator: ", "))\(ignored.count > 20 ? ", …" : "")")
        }
        if !upscaled.isEmpty {
            report.notes.append("smaller than \(options.resolution)px on the short side, will be upscaled (blurrier): \(upscaled.prefix(20).joined(separator: ", "))\(upscaled.count > 20 ? ", …" : "")")
        }
        if options.buckets {
            report.notes.append("buckets are on: each photo trains at its own shape (about \(options.resolution)x\(options.resolution) pixels in area); the contact sheet shows the centre square")
        } else if !mostlyCropped.isEmpty {
            report.notes.append("the square crop keeps less than half of: \(mostlyCropped.prefix(20).joined(separator: ", "))\(mostlyCropped.count > 20 ? ", …" : ""); check the contact sheet that the subject is in it")
        }
        if !options.centerCrop {
            report.notes.append("center_crop is off: training takes a random \(options.resolution)px square each step; the contact sheet shows the centre one")
        }
        if report.accepted.count < options.minImages {
            report.problem = "only \(report.accepted.count) usable image(s) in \(place), at least \(options.minImages) needed"
                + (report.rejected.isEmpty ? "" : "; \(report.rejected.count) file(s) were rejected, see the list")
        }
        if options.makeContactSheet && !tiles.isEmpty {
            if report.accepted.count > tiles.count {
                report.notes.append("the contact sheet shows the first \(tiles.count) of \(report.accepted.count) images")
            }
            report.contactSheetJPEG = contactSheet(tiles, tileSize: max(16, options.contactSheetTileSize), notes: &report.notes)
        }
        report.estimate = RunEstimate(plan: options.plan, resolution: options.resolution,
                                      imageCount: report.accepted.count,
                                      cores: ProcessInfo.processInfo.activeProcessorCount)
        return report
    }

    static func contactSheet(_ tiles: [ImageGrid.Tile], tileSize: Int, notes: inout [String]) -> Data? {
        let columns = min(tiles.count, max(4, Int(Double(tiles.count).squareRoot().rounded(.up))), 10)
        var grid = ImageGrid(tileWidth: tileSize, tileHeight: tileSize, columns: columns)
        grid.captionLines = 2
        do {
            let sheet = try grid.render(tiles)
            return Data(try ImageEncoder.jpeg(sheet, quality: 85))
        } catch let error as FontError {
            notes.append("no contact sheet: \(error.description)")
        } catch {
            notes.append("no contact sheet: \(error)")
        }
        return nil
    }

    /// A caption: UTF-8 text, at most `maxBytes`, trimmed; read like an image (no symlinks).
    static func readCaption(_ name: String, in folder: UntrustedFolder, maxBytes: Int) -> Result<String, CaptionProblem> {
        switch folder.read(name, maxBytes: maxBytes) {
        case .failure(let failure): return .failure(CaptionProblem(failure.description))
        case .success(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .failure(CaptionProblem("not UTF-8 text"))
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? .failure(CaptionProblem("empty")) : .success(trimmed)
        }
    }
}

extension PreflightReport {
    mutating func reject(_ name: String, _ reason: String) { rejected.append(.init(fileName: name, reason: reason)) }
}

/// Why a caption file was ignored, as words for a note.
struct CaptionProblem: Error { var message: String; init(_ m: String) { message = m } }
