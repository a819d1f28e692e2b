// TensorEngine is compiled for x86-64-v3 (-target-cpu haswell in Package.swift: AVX2, FMA,
// F16C). On an older CPU its first vector instruction would kill the process with SIGILL and
// no explanation. This file is compiled for the baseline CPU, and its constructor runs when
// the program loads, before main and before any engine code: on a CPU without those
// features it prints what is missing and how to build a portable binary, then exits.
#include "cpu_features.h"

#include <stdio.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(DROPBOOTH_ENGINE_NEEDS_AVX2)
int dropbooth_cpu_supports_engine(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

__attribute__((constructor)) static void dropbooth_refuse_unsupported_cpu(void) {
    if (dropbooth_cpu_supports_engine()) return;
    fprintf(stderr,
            "dropbooth: this binary was built for x86-64 CPUs with AVX2, FMA and F16C "
            "(Intel Haswell, AMD Excavator/Zen or newer), and this CPU lacks %s%s%s.\n"
            "Build a portable binary with DROPBOOTH_PORTABLE=1 swift build -c release "
            "(the pointwise kernels are then about 2x slower).\n",
            __builtin_cpu_supports("avx2") ? "" : "AVX2 ",
            __builtin_cpu_supports("fma") ? "" : "FMA ",
            __builtin_cpu_supports("f16c") ? "" : "F16C");
    _exit(78);  // EX_CONFIG: systemd does not restart-loop on it with RestartPreventExitStatus
}
#else
int dropbooth_cpu_supports_engine(void) { return 1; }
#endif
