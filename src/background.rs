//! Background work at idle CPU priority: the tile pre-render and other warm-ups run on threads
//! the kernel schedules only when nothing else wants the CPU, so requests never wait for them.

use std::sync::OnceLock;

/// Lower the calling thread to `SCHED_IDLE` (Linux): it runs only on otherwise idle CPUs.
/// Elsewhere, the lowest priority the platform has. If refused, it keeps its priority (logged once).
pub fn make_current_thread_idle() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    #[cfg(target_os = "linux")]
    let result = {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
    };
    #[cfg(not(target_os = "linux"))]
    let result = set_current_thread_priority(ThreadPriority::Min);
    #[cfg(target_os = "linux")]
    let result = result.or_else(|_| set_current_thread_priority(ThreadPriority::Min));
    if let Err(e) = result {
        warn_once(&format!("{e:?}"));
    }
}

fn warn_once(why: &str) {
    static WARNED: OnceLock<()> = OnceLock::new();
    if WARNED.set(()).is_ok() {
        tracing::warn!("background work keeps normal CPU priority: {why}");
    }
}

/// A rayon pool of one thread per core at idle priority, for pre-rendering.
/// `None` if the threads cannot be started (callers then use the global pool).
#[must_use]
pub fn idle_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(PRERENDER_THREADS.min(cores()))
            .thread_name(|i| format!("prerender-{i}"))
            .start_handler(|_| make_current_thread_idle())
            .build()
            .map_err(|e| tracing::warn!("cannot start the idle pool: {e}"))
            .ok()
    })
    .as_ref()
}

/// Run `f` on a new thread at idle priority (or, if no thread can be started, not at all:
/// the work is a warm-up that the first request does anyway).
pub fn spawn_idle(name: &str, f: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            make_current_thread_idle();
            f();
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start background thread {name}: {e}");
    }
}

/// Threads of the idle pool: one, so a core is always free of pre-rendering, and the tile
/// cache's bookkeeping sees one writer at a time.
const PRERENDER_THREADS: usize = 1;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}
