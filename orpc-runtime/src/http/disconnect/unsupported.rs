//! Where no readiness queue is used (Unix systems with neither epoll nor kqueue; Windows has no
//! `sys` module at all): there is no watcher, and a client that left is noticed at the next
//! write, which keep-alive comments bound. The type has no values, so none of its methods can run.

use std::io;

use actix_web::rt::net::TcpStream;

pub(super) enum Poller {}

impl Poller {
    pub(super) fn new() -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no disconnect watcher on this platform",
        ))
    }

    pub(super) fn watch(&self, _socket: &TcpStream, _token: u64) -> io::Result<()> {
        match *self {}
    }

    pub(super) fn take(&self, _gone: &mut Vec<u64>) -> io::Result<usize> {
        match *self {}
    }
}

impl std::os::fd::AsRawFd for Poller {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match *self {}
    }
}
