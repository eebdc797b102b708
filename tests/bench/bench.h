/*
 * bench.h - what the benchmark's own programs share
 */
#ifndef MQSIFT_TESTS_BENCH_H
#define MQSIFT_TESTS_BENCH_H

#include <sys/resource.h>

/* bench_cpu_seconds - user + system time of this process (and its threads) */
static inline double
bench_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

#endif
