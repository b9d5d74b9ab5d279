//! The disconnect watcher's queue on macOS, iOS and the BSDs: kqueue.
//!
//! kqueue has no filter for the end of a stream alone, so each socket is registered for
//! `EVFILT_READ` with `EV_CLEAR`: the filter reports a change of state once, then re-arms. Arriving
//! data is reported and ignored (actix-web reads it through its own queue); the close or reset
//! that follows is a new change, reported with `EV_EOF`. Nothing is read here. The kernel removes
//! the registration when the socket is closed. The kqueue descriptor is itself watched by the
//! worker's runtime (a kqueue reports another as readable when it holds events).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use actix_web::rt::net::TcpStream;
use nix::libc;
use nix::sys::event::{EvFlags, EventFilter, FilterFlag, KEvent, Kqueue};

use super::{retry_interrupted, Readiness, BATCH};

pub(super) struct Poller(Kqueue);

fn event(ident: usize, flags: EvFlags, udata: isize) -> KEvent {
    KEvent::new(
        ident,
        EventFilter::EVFILT_READ,
        flags,
        FilterFlag::empty(),
        0,
        udata,
    )
}

impl Poller {
    pub(super) fn new() -> io::Result<Self> {
        Ok(Poller(Kqueue::new()?))
    }

    /// Registers `socket` under `token`.
    pub(super) fn watch(&self, socket: &TcpStream, token: u64) -> io::Result<()> {
        let fd = socket.as_fd().as_raw_fd();
        let ident =
            usize::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let udata =
            isize::try_from(token).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let change = event(ident, EvFlags::EV_ADD | EvFlags::EV_CLEAR, udata);
        // No room for events and no wait: the change is applied and an error comes back as one.
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        self.0.kevent(&[change], &mut [], Some(now))?;
        Ok(())
    }

    /// Takes what the queue holds, up to a batch, without waiting; adds the tokens of the
    /// connections whose client left. How many events the batch held (fewer than [`BATCH`]: the
    /// queue is empty), or `WouldBlock` when it held nothing.
    pub(super) fn take(&self, gone: &mut Vec<u64>) -> io::Result<usize> {
        let mut events = [event(0, EvFlags::empty(), 0); BATCH];
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = retry_interrupted(|| self.0.kevent(&[], &mut events, Some(now)))?;
        if ready == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        for event in &events[..ready] {
            let flags = event.flags();
            let readiness = Readiness {
                end: flags.contains(EvFlags::EV_EOF),
                error: flags.contains(EvFlags::EV_ERROR),
            };
            if readiness.peer_gone() {
                if let Ok(token) = u64::try_from(event.udata()) {
                    gone.push(token);
                }
            }
        }
        Ok(ready)
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}
