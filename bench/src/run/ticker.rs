//! Sub-millisecond sleeps on the tokio runtime itself.
//!
//! tokio's timer ticks in whole milliseconds, which would add up to 1 ms to
//! every open-loop latency (measured from the intended send time). A pacing
//! thread would be precise but costs an extra thread hop (two context
//! switches) per request. A Linux timerfd polled by tokio's reactor wakes the
//! runtime on time, on the same thread that then sends the request.

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Instant;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    pub struct Ticker(AsyncFd<OwnedFd>);

    impl Ticker {
        pub fn new() -> io::Result<Self> {
            // SAFETY: a plain syscall; the descriptor it returns is owned below.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: the AsyncFd owns `fd`, which stays open and the same
            // descriptor until the AsyncFd is dropped.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
            Ok(Ticker(fd))
        }

        /// Returns at `at` (at once if it has passed).
        pub async fn sleep_until(&self, at: Instant) -> io::Result<()> {
            let now = Instant::now();
            if at <= now {
                return Ok(());
            }
            let d = at - now;
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: d.as_secs() as libc::time_t,
                    tv_nsec: d.subsec_nanos() as libc::c_long,
                },
            };
            let fd = self.0.as_raw_fd();
            // SAFETY: `fd` is our open timerfd and `spec` outlives the call.
            if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } < 0 {
                return Err(io::Error::last_os_error());
            }
            loop {
                let mut guard = self.0.readable().await?;
                let mut expirations = [0u8; 8];
                let read = guard.try_io(|_| {
                    // SAFETY: reads at most 8 bytes into an 8-byte buffer.
                    let n = unsafe { libc::read(fd, expirations.as_mut_ptr().cast(), 8) };
                    if n < 0 {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                });
                match read {
                    Ok(Ok(())) => {
                        // One-shot and consumed: nothing more to read until re-armed.
                        guard.clear_ready();
                        return Ok(());
                    }
                    Ok(Err(e)) => return Err(e),
                    // Stale readiness (try_io cleared it): wait again.
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::time::Instant;

    /// Elsewhere: tokio's millisecond timer (sends may be up to 1 ms late).
    pub struct Ticker;

    impl Ticker {
        pub fn new() -> io::Result<Self> {
            Ok(Ticker)
        }
        pub async fn sleep_until(&self, at: Instant) -> io::Result<()> {
            tokio::time::sleep_until(at.into()).await;
            Ok(())
        }
    }
}

pub use imp::Ticker;
