#pragma once
// Clang's thread-safety annotations (as in LevelDB's
// port/thread_annotations.h): checked by a clang build with -Wthread-safety,
// empty elsewhere. On members: GUARDED_BY(mu_) says which mutex guards them;
// on functions: REQUIRES(mu_) that the caller holds it, EXCLUDES(mu_) that it
// must not.

#if defined(__clang__)
#define ADCLICK_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define ADCLICK_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) ADCLICK_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY ADCLICK_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) ADCLICK_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) ADCLICK_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) ADCLICK_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) ADCLICK_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) ADCLICK_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) ADCLICK_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) ADCLICK_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) ADCLICK_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) ADCLICK_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) ADCLICK_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) ADCLICK_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS ADCLICK_THREAD_ANNOTATION(no_thread_safety_analysis)
