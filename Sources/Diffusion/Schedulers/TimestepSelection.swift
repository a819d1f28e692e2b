import Foundation

/// The sampling timesteps diffusers picks for each spacing, with numpy's float64 arithmetic and
/// round-half-to-even. The samplers differ in small ways (DPM-Solver spaces steps + 1 points and
/// drops the last; Euler keeps fractional linspace timesteps), so each asks for its own variant.
enum TimestepSelection {
    static func validate(steps: Int, trainTimesteps: Int) throws {
        guard steps >= 1 && steps <= trainTimesteps else {
            throw SamplerError(problem: "\(steps) sampling steps; expected 1 to \(trainTimesteps) (the training timesteps)")
        }
    }

    /// np.linspace(0, stop, count): i·(stop/(count−1)), the last value exactly `stop`.
    static func linspace(_ stop: Double, count: Int) -> [Double] {
        if count == 1 { return [0] }
        let step = stop / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? stop : Double($0) * step }
    }

    /// DDIM, Euler (rounded) and the reverse of PNDM's: descending integer timesteps.
    static func descending(_ spacing: TimestepSpacing, steps: Int, train: Int, offset: Int) -> [Double] {
        switch spacing {
        case .linspace:
            return linspace(Double(train - 1), count: steps).map { $0.rounded(.toNearestOrEven) }.reversed()
        case .leading:
            let ratio = train / steps
            return (0..<steps).reversed().map { Double($0 * ratio + offset) }
        case .trailing:
            // np.arange(train, 0, -train/steps).round() - 1
            let ratio = Double(train) / Double(steps)
            let count = Int((Double(train) / ratio).rounded(.up))
            return (0..<count).map { (Double(train) - Double($0) * ratio).rounded(.toNearestOrEven) - 1 }
        }
    }

    /// DPM-Solver's: `steps + 1` points from the training range, the final (t = 0) one dropped.
    static func dpmSolver(_ spacing: TimestepSpacing, steps: Int, train: Int, offset: Int) -> [Double] {
        switch spacing {
        case .linspace:
            let points = linspace(Double(train - 1), count: steps + 1).map { $0.rounded(.toNearestOrEven) }
            return Array(points.reversed().dropLast())
        case .leading:
            let ratio = train / (steps + 1)
            return (1...steps).reversed().map { Double($0 * ratio + offset) }
        case .trailing:
            return descending(.trailing, steps: steps, train: train, offset: offset)
        }
    }

    /// np.interp(x, 0..<values.count, values) in float64.
    static func interpolate(_ values: [Float], at x: Double) -> Double {
        if x <= 0 { return Double(values[0]) }
        if x >= Double(values.count - 1) { return Double(values[values.count - 1]) }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return Double(values[j]) }
        let slope = (Double(values[j + 1]) - Double(values[j]))
        return slope * (x - Double(j)) + Double(values[j])
    }

    /// Karras et al. (2022) spacing: σ_i = (σ_max^(1/ρ) + i/(n−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, ρ = 7.
    static func karrasSigmas(min sigmaMin: Double, max sigmaMax: Double, count: Int) -> [Double] {
        let rho = 7.0
        let minInv = pow(sigmaMin, 1 / rho), maxInv = pow(sigmaMax, 1 / rho)
        return linspace(1, count: count).map { pow(maxInv + $0 * (minInv - maxInv), rho) }
    }

    /// The (fractional) training timestep whose σ is `sigma`, interpolating log σ linearly
    /// between neighbouring training timesteps (diffusers' _sigma_to_t).
    static func timestep(forSigma sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = log(max(sigma, 1e-10))
        // The last training timestep whose log σ does not exceed the target, kept below the end.
        var low = 0
        for (i, l) in logSigmas.enumerated() where logSigma - Double(l) >= 0 { low = i }
        low = min(low, logSigmas.count - 2)
        let lo = Double(logSigmas[low]), hi = Double(logSigmas[low + 1])
        let w = min(max((lo - logSigma) / (lo - hi), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }
}
