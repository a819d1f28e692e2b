#ifndef DROPBOOTH_CPU_FEATURES_H
#define DROPBOOTH_CPU_FEATURES_H

/// 1 when this CPU has what TensorEngine was compiled for (on x86-64: AVX2, FMA, F16C), else 0.
/// The check also runs by itself when the program loads, before any engine code (see the .c).
int dropbooth_cpu_supports_engine(void);

#endif
