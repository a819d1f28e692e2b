import Foundation
import Testing
@testable import Service

@Suite struct ReportLossChartTests {
    /// The x,y pairs of the polyline with `cssClass`.
    func polylinePoints(_ svg: String, _ cssClass: String) -> [String] {
        guard let start = svg.range(of: "class=\"\(cssClass)\""),
              let points = svg.range(of: "points=\"", range: start.upperBound..<svg.endIndex),
              let end = svg.range(of: "\"", range: points.upperBound..<svg.endIndex) else { return [] }
        return svg[points.upperBound..<end.lowerBound].split(separator: " ").map(String.init)
    }

    /// "nan" or "inf" as a word (not inside "dominant-baseline").
    func hasNonFiniteNumber(_ svg: String) -> Bool {
        let pattern = try! NSRegularExpression(pattern: "(?<![a-z])(nan|inf)(?![a-z])", options: [.caseInsensitive])
        return pattern.firstMatch(in: svg, range: NSRange(svg.startIndex..., in: svg)) != nil
    }

    @Test func noPointsSaysSo() {
        let svg = LossChart(points: []).svg()
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("no loss recorded"))
        #expect(!svg.contains("polyline"))
    }

    @Test func onePointIsAMarkerOnRealAxes() {
        let svg = LossChart(points: [.init(step: 1, loss: 0.25)]).svg()
        #expect(svg.contains("<circle"))
        #expect(!svg.contains("polyline"))
        #expect(!hasNonFiniteNumber(svg))
        #expect(svg.contains(">1</text>"))            // the step has a tick
    }

    @Test func curveHasTicksRawAndSmoothedLines() {
        let points = (1...200).map { LossChart.Point(step: $0, loss: 0.2 + 0.1 * sin(Double($0))) }
        let svg = LossChart(points: points).svg()
        #expect(polylinePoints(svg, "raw").count == 200)
        #expect(polylinePoints(svg, "smoothed").count == 200)
        #expect(svg.contains(">0</text>") && svg.contains(">200</text>"))   // x ticks from 0 to 200
        #expect(svg.contains(">0.10</text>") || svg.contains(">0.1</text>")) // y ticks cover the losses
        #expect(svg.contains(">loss</text>") && svg.contains(">step</text>"))
    }

    @Test func hundredThousandPointsAreDownsampled() {
        var generator = SystemRandomNumberGenerator()
        let points = (1...100_000).map { LossChart.Point(step: $0, loss: Double.random(in: 0...1, using: &generator)) }
        var chart = LossChart(points: points)
        chart.maxColumns = 500
        let svg = chart.svg()
        #expect(polylinePoints(svg, "smoothed").count == 500)
        #expect(polylinePoints(svg, "raw").count <= 1000)
        #expect(svg.utf8.count < 60_000)
        #expect(svg.contains(">100000</text>"))
    }

    @Test func downsamplingKeepsSpikes() {
        var points = (1...10_000).map { LossChart.Point(step: $0, loss: 0.1) }
        points[5_000].loss = 3
        let columns = LossChart.columns(points, smoothed: points.map(\.loss), maxColumns: 100)
        #expect(columns.count == 100)
        #expect(columns.map(\.high).max() == 3)
        #expect(columns.map(\.low).min() == 0.1)
    }

    @Test func notANumberLossesAreLeftOut() {
        let svg = LossChart(points: [.init(step: 1, loss: 0.3), .init(step: 2, loss: .nan), .init(step: 3, loss: 0.2)]).svg()
        #expect(polylinePoints(svg, "smoothed").count == 2)
        #expect(!hasNonFiniteNumber(svg))
    }

    @Test func smoothingIsDebiasedAndFollowsAConstant() {
        #expect(LossChart.smooth([0.5, 0.5, 0.5], weight: 0.9).allSatisfy { abs($0 - 0.5) < 1e-12 })
        #expect(LossChart.smooth([1, 0], weight: 0.9)[0] == 1)
    }

    @Test func ticksAreRoundNumbers() {
        #expect(LossChart.niceTicks(from: 0, to: 1000, count: 8, integers: true) == [0, 200, 400, 600, 800, 1000])
        #expect(LossChart.niceTicks(from: 3, to: 7, count: 8, integers: true) == [3, 4, 5, 6, 7])
        let y = LossChart.niceTicks(from: 0.013, to: 0.087, count: 6, integers: false)
        #expect(y.first! <= 0.013 && y.last! >= 0.087 && y.count <= 7)
        #expect(LossChart.decimals(forStep: 0.05) == 2)
        #expect(LossChart.decimals(forStep: 0.1) == 1)
        #expect(LossChart.decimals(forStep: 20) == 0)
    }
}
