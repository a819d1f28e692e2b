import Foundation

/// The loss curve as an inline SVG, drawn here rather than by a charting library so the report
/// stays one self-contained file. The raw per-step losses are drawn faintly and an exponential
/// moving average over them boldly: diffusion losses depend mostly on the sampled timestep, so
/// single steps jump around and only the average shows a trend.
///
/// Long runs are downsampled to at most `maxColumns` columns before drawing: each column keeps
/// the lowest and highest raw loss of its steps (so spikes stay visible) and the mean of the
/// smoothed curve. A 100 000-step run makes the same size of SVG as a 600-step one.
public struct LossChart: Sendable {
    public struct Point: Sendable, Equatable {
        public var step: Int
        public var loss: Double
        public init(step: Int, loss: Double) { self.step = step; self.loss = loss }
    }

    public var points: [Point]
    public var width = 760
    public var height = 320
    /// Weight of the history in the moving average, as TensorBoard's smoothing slider.
    public var smoothing = 0.9
    public var maxColumns = 600

    public init(points: [Point]) { self.points = points }

    // Plot area inside the SVG: room for tick labels on the left and below.
    private var left: Double { 64 }
    private var right: Double { Double(width) - 16 }
    private var top: Double { 16 }
    private var bottom: Double { Double(height) - 40 }

    public func svg() -> String {
        let finite = points.filter { $0.loss.isFinite }.sorted { $0.step < $1.step }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"loss-chart\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"training loss per step\">\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#fff\"/>\n"
        guard let first = finite.first, let last = finite.last else {
            out += "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\" fill=\"#666\">no loss recorded</text>\n</svg>"
            return out
        }

        // Ranges, padded so that a single point or a flat curve still has an axis to sit on.
        var (xMin, xMax) = (Double(first.step), Double(last.step))
        if xMax == xMin { xMin -= 1; xMax += 1 }
        var (yMin, yMax) = (finite.map(\.loss).min()!, finite.map(\.loss).max()!)
        if yMax - yMin < 1e-12 * max(1, abs(yMax)) {
            let pad = max(abs(yMax) * 0.1, 1e-3)
            yMin -= pad; yMax += pad
        }
        let xTicks = Self.niceTicks(from: xMin, to: xMax, count: 8, integers: true)
        let yTicks = Self.niceTicks(from: yMin, to: yMax, count: 6, integers: false)
        xMin = min(xMin, xTicks.first ?? xMin); xMax = max(xMax, xTicks.last ?? xMax)
        yMin = min(yMin, yTicks.first ?? yMin); yMax = max(yMax, yTicks.last ?? yMax)

        let (l, r, t, b) = (left, right, top, bottom)
        func x(_ step: Double) -> Double { l + (step - xMin) / (xMax - xMin) * (r - l) }
        func y(_ loss: Double) -> Double { b - (loss - yMin) / (yMax - yMin) * (b - t) }

        // Grid lines and tick labels.
        let yDecimals = Self.decimals(forStep: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1)
        for tick in yTicks {
            let py = Self.f(y(tick))
            out += "<line x1=\"\(Self.f(l))\" y1=\"\(py)\" x2=\"\(Self.f(r))\" y2=\"\(py)\" stroke=\"#e4e4e4\"/>"
            out += "<text x=\"\(Self.f(l - 6))\" y=\"\(py)\" text-anchor=\"end\" dominant-baseline=\"middle\" font-size=\"11\" fill=\"#444\">\(String(format: "%.\(yDecimals)f", tick))</text>\n"
        }
        for tick in xTicks {
            let px = Self.f(x(tick))
            out += "<line x1=\"\(px)\" y1=\"\(Self.f(b))\" x2=\"\(px)\" y2=\"\(Self.f(b + 4))\" stroke=\"#444\"/>"
            out += "<text x=\"\(px)\" y=\"\(Self.f(b + 16))\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">\(Int(tick))</text>\n"
        }
        out += "<line x1=\"\(Self.f(l))\" y1=\"\(Self.f(t))\" x2=\"\(Self.f(l))\" y2=\"\(Self.f(b))\" stroke=\"#444\"/>"
        out += "<line x1=\"\(Self.f(l))\" y1=\"\(Self.f(b))\" x2=\"\(Self.f(r))\" y2=\"\(Self.f(b))\" stroke=\"#444\"/>\n"
        out += "<text x=\"\(Self.f((l + r) / 2))\" y=\"\(height - 6)\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">step</text>"
        out += "<text x=\"14\" y=\"\(Self.f((t + b) / 2))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\" transform=\"rotate(-90 14 \(Self.f((t + b) / 2)))\">loss</text>\n"

        let columns = Self.columns(finite, smoothed: Self.smooth(finite.map(\.loss), weight: smoothing), maxColumns: maxColumns)
        if columns.count == 1 {
            let c = columns[0]
            out += "<circle cx=\"\(Self.f(x(c.step)))\" cy=\"\(Self.f(y(c.smoothed)))\" r=\"3.5\" fill=\"#1f5fbf\"/>\n"
        } else {
            // Raw losses: through each column's low and high, in step order.
            var raw: [String] = []
            for c in columns {
                raw.append("\(Self.f(x(c.step))),\(Self.f(y(c.low)))")
                if c.high != c.low { raw.append("\(Self.f(x(c.step))),\(Self.f(y(c.high)))") }
            }
            out += "<polyline class=\"raw\" fill=\"none\" stroke=\"#9ab8e6\" stroke-width=\"1\" points=\"\(raw.joined(separator: " "))\"/>\n"
            let smooth = columns.map { "\(Self.f(x($0.step))),\(Self.f(y($0.smoothed)))" }
            out += "<polyline class=\"smoothed\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"\(smooth.joined(separator: " "))\"/>\n"
        }
        out += "</svg>"
        return out
    }

    /// One drawn x position: the raw losses' extremes over its steps and the smoothed mean.
    struct Column: Equatable {
        var step: Double
        var low: Double
        var high: Double
        var smoothed: Double
    }

    static func columns(_ points: [Point], smoothed: [Double], maxColumns: Int) -> [Column] {
        guard points.count > maxColumns, maxColumns > 0 else {
            return zip(points, smoothed).map { Column(step: Double($0.step), low: $0.loss, high: $0.loss, smoothed: $1) }
        }
        var columns: [Column] = []
        columns.reserveCapacity(maxColumns)
        for c in 0..<maxColumns {
            let range = (c * points.count / maxColumns)..<((c + 1) * points.count / maxColumns)
            guard !range.isEmpty else { continue }
            let losses = points[range].map(\.loss)
            let mean = smoothed[range].reduce(0, +) / Double(range.count)
            let step = Double(points[range.lowerBound].step + points[range.upperBound - 1].step) / 2
            columns.append(Column(step: step, low: losses.min()!, high: losses.max()!, smoothed: mean))
        }
        return columns
    }

    /// Exponential moving average, debiased as TensorBoard does so that the first points are
    /// not pulled towards zero.
    static func smooth(_ values: [Double], weight: Double) -> [Double] {
        var average = 0.0, correction = 0.0
        return values.map { v in
            average = average * weight + (1 - weight) * v
            correction = correction * weight + (1 - weight)
            return average / correction
        }
    }

    /// Round tick values (1, 2 or 5 times a power of ten) covering [from, to].
    static func niceTicks(from low: Double, to high: Double, count: Int, integers: Bool) -> [Double] {
        guard high > low, count > 1 else { return [low] }
        let rough = (high - low) / Double(count - 1)
        let magnitude = pow(10, floor(log10(rough)))
        let fraction = rough / magnitude
        var step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
        if integers { step = max(1, step.rounded()) }
        let first = floor(low / step) * step, last = ceil(high / step) * step
        var ticks: [Double] = []
        var k = 0.0
        while first + k * step <= last + step * 1e-9 {
            ticks.append(first + k * step)
            k += 1
        }
        return ticks
    }

    /// Decimals needed to tell ticks `step` apart (0.05 → 2).
    static func decimals(forStep step: Double) -> Int {
        guard step > 0, step < 1 else { return 0 }
        return min(8, Int(ceil(-log10(step) - 1e-9)))
    }

    /// Coordinates with one decimal: enough for a screen, and keeps the SVG small.
    static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
