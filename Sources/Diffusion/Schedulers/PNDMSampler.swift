/// PNDM (Liu et al. 2022), as diffusers' PNDMScheduler: pseudo linear multistep (PLMS), a
/// fourth-order Adams–Bashforth combination of the last noise predictions.
///
/// Stable Diffusion's configs set skip_prk_steps: PLMS warms up with a second-order step that
/// calls the model twice on the same interval, so the timesteps hold steps + 1 entries with the
/// second repeating the first step's target. Without it (diffusers' default), the first three
/// intervals are Runge–Kutta (PRK) steps, four model calls each, at half-interval timesteps.
public struct PNDMSampler: Sampler {
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    public let usesNoise = false
    public private(set) var stepIndex = 0

    let schedule: NoiseSchedule
    let stride: Int
    let finalAlphaCumprod: Float
    /// The Runge–Kutta warm-up's timesteps (empty when skipped); they lead `timesteps`.
    let rungeKuttaTimesteps: [Int]
    /// Past noise predictions, newest last (at most four).
    var history: [[Float]] = []
    /// The sample a two-evaluation step started from; later evaluations restart there.
    var startSample: [Float]? = nil
    /// Runge–Kutta: the weighted sum of this interval's evaluations so far.
    var rungeKuttaSum: [Float]? = nil

    public init(schedule: NoiseSchedule, steps: Int) throws {
        let config = schedule.config
        let train = schedule.numTrainTimesteps
        try TimestepSelection.validate(steps: steps, trainTimesteps: train)
        self.schedule = schedule
        stride = train / steps
        finalAlphaCumprod = config.setAlphaToOne ?? false ? 1 : schedule.alphasCumprod[0]
        let ascending = TimestepSelection.descending(config.timestepSpacing ?? .leading, steps: steps,
                                                     train: train, offset: config.stepsOffset).reversed().map { Int($0) }
        if config.skipPRKSteps ?? false {
            // [t0 … t_{n-2}, t_{n-2}, t_{n-1}] reversed: the second-to-last ascending one twice.
            var plms = Array(ascending.dropLast())
            if ascending.count >= 2 { plms.append(ascending[ascending.count - 2]) }
            plms.append(ascending[ascending.count - 1])
            rungeKuttaTimesteps = []
            timesteps = plms.reversed().map(Float.init)
        } else {
            guard steps >= 4 else {
                throw SamplerError(problem: "PNDM with Runge-Kutta warm-up (skip_prk_steps false) needs at least 4 steps, got \(steps)")
            }
            // The last four ascending timesteps, each with its half-interval point, each point
            // twice, trimmed at both ends: 12 calls from the noisiest end.
            let half = train / steps / 2
            let points = ascending.suffix(4).flatMap { [$0, $0 + half] }
            let doubled = points.dropLast().flatMap { [$0, $0] }
            rungeKuttaTimesteps = Array(doubled.dropFirst().dropLast().reversed())
            timesteps = (rungeKuttaTimesteps + ascending.dropLast(3).reversed()).map(Float.init)
        }
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let counter = stepIndex
        stepIndex += 1
        if counter < rungeKuttaTimesteps.count {
            return rungeKuttaStep(counter, modelOutput, Int(timestep), sample)
        }
        var current = Int(timestep), previous = current - stride
        var input = sample
        let combined: [Float]
        if counter == 1 {
            // Second evaluation of the PLMS warm-up: same interval again, from the saved sample.
            previous = current
            current += stride
            let first = history[history.count - 1]
            combined = zip(modelOutput, first).map { ($0 + $1) / 2 }
            input = startSample ?? sample
            startSample = nil
        } else {
            history = Array(history.suffix(3)) + [modelOutput]
            let e = history
            switch e.count {
            case 1:
                combined = modelOutput
                startSample = sample
            case 2:
                combined = (0..<sample.count).map { (3 * e[1][$0] - e[0][$0]) / 2 }
            case 3:
                combined = (0..<sample.count).map { (23 * e[2][$0] - 16 * e[1][$0] + 5 * e[0][$0]) / 12 }
            default:
                combined = (0..<sample.count).map {
                    1 / 24 * (55 * e[3][$0] - 59 * e[2][$0] + 37 * e[1][$0] - 9 * e[0][$0])
                }
            }
        }
        return previousSample(input, current, previous, combined)
    }

    /// Classical fourth-order Runge–Kutta over one interval, one of its four evaluations per call
    /// (weights 1/6, 1/3, 1/3, 1/6); each call returns the point the next evaluation is made at.
    private mutating func rungeKuttaStep(_ counter: Int, _ output: [Float], _ timestep: Int, _ sample: [Float]) -> [Float] {
        let previous = timestep - (counter % 2 == 1 ? 0 : stride / 2)
        let start = rungeKuttaTimesteps[counter / 4 * 4]
        var used = output
        switch counter % 4 {
        case 0:
            rungeKuttaSum = output.map { Float(1.0 / 6.0) * $0 }
            history.append(output)
            startSample = sample
        case 1, 2:
            rungeKuttaSum = zip(rungeKuttaSum!, output).map { $0 + Float(1.0 / 3.0) * $1 }
        default:
            used = zip(rungeKuttaSum!, output).map { $0 + Float(1.0 / 6.0) * $1 }
            rungeKuttaSum = nil
        }
        return previousSample(startSample ?? sample, start, previous, used)
    }

    /// Formula (9) of the PNDM paper: the sample at `previous` from the one at `current`.
    private func previousSample(_ sample: [Float], _ current: Int, _ previous: Int, _ output: [Float]) -> [Float] {
        let alphaT = schedule.alphasCumprod[current]
        let alphaPrev = previous >= 0 ? schedule.alphasCumprod[previous] : finalAlphaCumprod
        let betaT = 1 - alphaT, betaPrev = 1 - alphaPrev
        let sampleCoefficient = (alphaPrev / alphaT).squareRoot()
        let denominator = alphaT * betaPrev.squareRoot() + (alphaT * betaT * alphaPrev).squareRoot()
        let difference = alphaPrev - alphaT
        let sqrtAlphaT = alphaT.squareRoot(), sqrtBetaT = betaT.squareRoot()
        let vPrediction = schedule.config.predictionType == .vPrediction
        return (0..<sample.count).map { i in
            // v-prediction is turned into the noise prediction the formula wants.
            let eps = vPrediction ? sqrtAlphaT * output[i] + sqrtBetaT * sample[i] : output[i]
            return sampleCoefficient * sample[i] - difference * eps / denominator
        }
    }
}
