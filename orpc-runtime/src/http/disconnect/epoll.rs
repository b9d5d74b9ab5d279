//! The disconnect watcher's queue on Linux and Android: epoll, asked for `EPOLLRDHUP` alone.
//!
//! The kernel reports a connection only when its peer closes or resets it (plus `EPOLLHUP` and
//! `EPOLLERR`, which epoll always reports), never for arriving data. The registration is one-shot:
//! the first close or reset is all there is to know. The epoll descriptor is itself watched by the
//! worker's runtime, which sees it readable when it holds events.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use actix_web::rt::net::TcpStream;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::{retry_interrupted, Readiness, BATCH};

pub(super) struct Poller(Epoll);

impl Poller {
    pub(super) fn new() -> io::Result<Self> {
        Ok(Poller(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?))
    }

    /// Registers `socket` under `token`.
    pub(super) fn watch(&self, socket: &TcpStream, token: u64) -> io::Result<()> {
        let flags = EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLONESHOT;
        self.0.add(socket.as_fd(), EpollEvent::new(flags, token))?;
        Ok(())
    }

    /// Takes what the queue holds, up to a batch, without waiting; adds the tokens of the
    /// connections whose client left. How many events the batch held (fewer than [`BATCH`]: the
    /// queue is empty), or `WouldBlock` when it held nothing.
    pub(super) fn take(&self, gone: &mut Vec<u64>) -> io::Result<usize> {
        let mut events = [EpollEvent::empty(); BATCH];
        let ready = retry_interrupted(|| self.0.wait(&mut events, EpollTimeout::ZERO))?;
        if ready == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        for event in &events[..ready] {
            let flags = event.events();
            let readiness = Readiness {
                end: flags.intersects(EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLHUP),
                error: flags.contains(EpollFlags::EPOLLERR),
            };
            if readiness.peer_gone() {
                gone.push(event.data());
            }
        }
        Ok(ready)
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}
