//! The process's file budget: every connection holds a descriptor, and so do the database,
//! the blobs being written and the logs. Running out of descriptors must refuse connections,
//! never fail a delivery or end a listener.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

/// Descriptors kept back from connections for the database, blob files, queue and logs.
const RESERVED: usize = 256;

static BUDGET: OnceLock<Semaphore> = OnceLock::new();

/// Raises the soft limit on open files to the hard one (a service manager's default soft limit
/// of 1,024 is far below what a mail server needs) and sizes the connection budget from it.
/// Returns the limit in force.
pub fn raise_file_limit() -> usize {
    let limit = raise().unwrap_or(1024);
    let _ = BUDGET.set(Semaphore::new(limit.saturating_sub(RESERVED).max(16)));
    limit
}

fn raise() -> Option<usize> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return None;
        }
        if rl.rlim_cur < rl.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                rl.rlim_cur = rl.rlim_max;
            }
        }
    }
    Some(usize::try_from(rl.rlim_cur).unwrap_or(usize::MAX))
}

/// Connections of the whole process, bounded by the file budget (sized at the first use when
/// `raise_file_limit` was not called, as in tests of one front).
pub(crate) fn budget() -> &'static Semaphore {
    BUDGET.get_or_init(|| Semaphore::new(raise().unwrap_or(1024).saturating_sub(RESERVED).max(16)))
}
