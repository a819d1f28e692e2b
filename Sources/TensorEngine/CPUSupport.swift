import CCPUFeatures

/// Whether this CPU has the instruction set extensions the engine was compiled for (see
/// Package.swift: AVX2, FMA and F16C on x86-64 unless built with DROPBOOTH_PORTABLE=1).
/// A program linking the engine already refuses to start without them; this is for reports.
public enum EngineCPU {
    public static var isSupported: Bool { dropbooth_cpu_supports_engine() != 0 }
}
