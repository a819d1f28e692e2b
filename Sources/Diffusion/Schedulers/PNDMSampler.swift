/// PNDM's pseudo linear multistep (PLMS) sampler, as Stable Diffusion uses it (diffusers'
/// PNDMScheduler with skip_prk_steps): a fourth-order Adams–Bashforth combination of the last
/// noise predictions, warmed up with a second-order step that calls the model twice.
///
/// The timesteps therefore hold steps + 1 entries: the second one repeats the first step's
/// target, where the model is evaluated again to average the two predictions.
public struct PNDMSampler: Sampler {
    public let timesteps: [Float]
    public let initNoiseSigma: Float = 1
    public let usesNoise = false
    public private(set) var stepIndex = 0

    let schedule: NoiseSchedule
    let stride: Int
    let finalAlphaCumprod: Float
    /// Past noise predictions, newest last (at most four).
    var history: [[Float]] = []
    /// The sample the warm-up step started from; its second evaluation restarts there.
    var warmupSample: [Float]? = nil

    public init(schedule: NoiseSchedule, steps: Int) throws {
        let config = schedule.config
        try TimestepSelection.validate(steps: steps, trainTimesteps: schedule.numTrainTimesteps)
        self.schedule = schedule
        stride = schedule.numTrainTimesteps / steps
        finalAlphaCumprod = config.setAlphaToOne ?? false ? 1 : schedule.alphasCumprod[0]
        let ascending = Array(TimestepSelection.descending(config.timestepSpacing ?? .leading, steps: steps,
                                                           train: schedule.numTrainTimesteps, offset: config.stepsOffset).reversed())
        // [t0 … t_{n-2}, t_{n-2}, t_{n-1}] reversed: the second-to-last of the ascending list twice.
        var plms = Array(ascending.dropLast())
        if ascending.count >= 2 { plms.append(ascending[ascending.count - 2]) }
        plms.append(ascending[ascending.count - 1])
        timesteps = plms.reversed().map(Float.init)
    }

    public mutating func step(modelOutput: [Float], timestep: Float, sample: [Float], noise: [Float]?) -> [Float] {
        checkStep(timestep, modelOutput, sample, noise)
        let counter = stepIndex
        stepIndex += 1
        var current = Int(timestep), previous = current - stride
        var input = sample
        let combined: [Float]
        if counter == 1 {
            // Second evaluation of the warm-up: same interval again, from the saved sample.
            previous = current
            current += stride
            let first = history[history.count - 1]
            combined = zip(modelOutput, first).map { ($0 + $1) / 2 }
            input = warmupSample ?? sample
            warmupSample = nil
        } else {
            history = Array(history.suffix(3)) + [modelOutput]
            let e = history
            switch e.count {
            case 1:
                combined = modelOutput
                warmupSample = sample
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
