//! One worker's watched connections: found by a request through its peer's address, and by the
//! readiness queue through a token.
//!
//! A connection is entered by `on_connect`, which sees its socket, and looked up by the request,
//! which sees only `HttpRequest::peer_addr` and the port it came in on. Among the connections
//! open on a worker, that pair names one. Keeping the entry here instead of in actix-web's
//! per-connection data (`conn_data`) costs a table slot instead of a `HashMap` of its own per
//! connection (BENCHMARKS.md, "Memory per idle stream").
//!
//! Nothing tells the table when actix-web closes a connection itself (a keep-alive timeout, say):
//! the kernel silently drops a closed socket's registration. Such entries are found by
//! [`Table::sweep`], which asks the kernel whose socket each entry's descriptor now is, whenever
//! the table has doubled since the last sweep; a new connection from the same address replaces
//! its entry at once. A stale entry holds no waker (a stream clears its own when it ends), so
//! what it keeps until then is its slot. An entry is dropped only when its connection is gone,
//! so a stream whose entry was dropped (a client that reset its connection, swept before the
//! queue's news came) is woken and ends.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::task::Waker;

/// Who a connection is from, and the local port it came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Peer {
    addr: SocketAddr,
    local_port: u16,
}

impl Peer {
    pub(super) fn new(addr: SocketAddr, local_port: u16) -> Self {
        Peer { addr, local_port }
    }

    /// The table's key: an IPv4 peer packs into 64 bits exactly.
    fn key(&self) -> Key {
        match self.addr {
            SocketAddr::V4(v4) => Key::V4(
                u64::from(v4.ip().to_bits()) << 32
                    | u64::from(v4.port()) << 16
                    | u64::from(self.local_port),
            ),
            SocketAddr::V6(v6) => Key::V6(V6Key {
                ip: v6.ip().octets(),
                port: v6.port(),
                local_port: self.local_port,
            }),
        }
    }
}

enum Key {
    V4(u64),
    V6(V6Key),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct V6Key {
    ip: [u8; 16],
    port: u16,
    local_port: u16,
}

/// The peer address a key names, to compare with what the kernel says.
fn v4_addr(key: u64) -> SocketAddr {
    let ip = Ipv4Addr::from_bits((key >> 32) as u32);
    SocketAddr::V4(SocketAddrV4::new(ip, (key >> 16) as u16))
}

fn v6_addr(key: &V6Key) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(key.ip), key.port, 0, 0))
}

/// A slot's place and generation, packed as the readiness queue carries it. Below 2^63, so
/// kqueue's signed user data takes it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) slot: u32,
    pub(super) generation: u32,
}

impl Token {
    pub(super) fn to_u64(self) -> u64 {
        u64::from(self.generation) << 32 | u64::from(self.slot)
    }

    pub(super) fn from_u64(token: u64) -> Self {
        Token {
            slot: token as u32,
            generation: (token >> 32) as u32,
        }
    }
}

/// One connection's place: 24 bytes, as a table of ten thousand idle connections holds them.
struct Slot {
    /// The generation (28 bits, so that a token stays below 2^63) above the flags [`OPEN`],
    /// [`CLOSED`], [`TIMED`] and [`QUEUED`].
    meta: u32,
    /// When its HTTP/1 stream is due a keep-alive comment ([`TIMED`]), in the worker clock's
    /// milliseconds, modulo 2^32: compared by wrapping difference.
    due: u32,
    /// Its HTTP/1 stream, while one is quiet. An HTTP/2 connection's are in `Table::streams`.
    waker: Option<Waker>,
}

const OPEN: u32 = 1;
const CLOSED: u32 = 2;
/// Its stream counts its silence on the worker's clock (`due`).
const TIMED: u32 = 4;
/// The slot has an entry in `Table::timers`.
const QUEUED: u32 = 8;
const FLAGS: u32 = 4;
const GENERATIONS: u32 = 1 << (32 - FLAGS);

impl Slot {
    fn generation(&self) -> u32 {
        self.meta >> FLAGS
    }

    /// Whether `now` (milliseconds, modulo 2^32) has reached `due`.
    fn is_due(&self, now: u64) -> bool {
        (now as u32).wrapping_sub(self.due) as i32 >= 0
    }
}

/// What became of a watch's connection.
pub(super) enum State {
    Open,
    Closed,
    /// The entry is gone, which also means the client is: a sweep found that its descriptor no
    /// longer names its connection (closed, or reset by the client), or a newer connection from
    /// the same address took its place.
    Gone,
}

/// A connection's slot and socket, by peer.
#[derive(Clone, Copy)]
struct Place {
    slot: u32,
    fd: RawFd,
}

pub(super) struct Table {
    v4: HashMap<u64, Place>,
    v6: HashMap<V6Key, Place>,
    slots: Vec<Slot>,
    /// When quiet streams are due, earliest first: at most one entry per slot ([`QUEUED`]); an
    /// entry whose stream wrote since is put back at the new time when it comes up.
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    free: Vec<u32>,
    /// The streams of HTTP/2 connections, by slot and watch.
    streams: HashMap<u32, Vec<(u32, Waker)>>,
    /// Entries in use at the last sweep; the next comes when there are twice as many.
    swept: usize,
    /// Asks the kernel for a descriptor's peer ([`current_peer`]; a stand-in in unit tests).
    peer_of: fn(RawFd) -> Option<SocketAddr>,
}

impl Default for Table {
    fn default() -> Self {
        Table::with_peer_of(current_peer)
    }
}

/// The most slots a table has: a watch keeps its slot in 24 bits.
const SLOTS: usize = 1 << 24;

/// The fewest entries a sweep looks at.
const SWEEP_FLOOR: usize = 64;

impl Table {
    fn with_peer_of(peer_of: fn(RawFd) -> Option<SocketAddr>) -> Self {
        Table {
            v4: HashMap::new(),
            v6: HashMap::new(),
            slots: Vec::new(),
            timers: BinaryHeap::new(),
            free: Vec::new(),
            streams: HashMap::new(),
            swept: 0,
            peer_of,
        }
    }

    /// Enters a connection, on socket `fd`. An older entry for the same peer is replaced, as its
    /// connection has closed, unless its client has not left and its socket is still open with
    /// that peer: then the client reached the same port on another local address, and the older
    /// connection keeps the watch.
    /// `None` for a connection not entered, or when the table is full (16 million
    /// connections). The streams of the entries it drops are added to `wake`.
    pub(super) fn insert(&mut self, peer: Peer, fd: RawFd, wake: &mut Vec<Waker>) -> Option<Token> {
        if self.in_use() >= self.swept.max(SWEEP_FLOOR / 2) * 2 {
            self.sweep(wake);
        }
        let existing = match peer.key() {
            Key::V4(key) => self.v4.get(&key),
            Key::V6(key) => self.v6.get(&key),
        };
        if let Some(old) = existing.copied() {
            let closed = self.slots[old.slot as usize].meta & CLOSED != 0;
            if !closed && old.fd != fd && (self.peer_of)(old.fd) == Some(peer.addr) {
                return None;
            }
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if self.slots.len() >= SLOTS => return None,
            None => {
                self.slots.push(Slot {
                    meta: 0,
                    due: 0,
                    waker: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let entry = Place { slot, fd };
        let old = match peer.key() {
            Key::V4(key) => self.v4.insert(key, entry),
            Key::V6(key) => self.v6.insert(key, entry),
        };
        if let Some(old) = old {
            self.release(old.slot, wake);
        }
        let place = &mut self.slots[slot as usize];
        place.meta = place.generation() << FLAGS | OPEN;
        Some(Token {
            slot,
            generation: place.generation(),
        })
    }

    /// Forgets a connection (its registration failed).
    pub(super) fn remove(&mut self, peer: &Peer, token: Token) {
        if self.find(peer) == Some(token) {
            match peer.key() {
                Key::V4(key) => self.v4.remove(&key),
                Key::V6(key) => self.v6.remove(&key),
            };
            self.release(token.slot, &mut Vec::new());
        }
    }

    /// The token of the open connection from `peer`, if it is watched here.
    pub(super) fn find(&self, peer: &Peer) -> Option<Token> {
        let slot = match peer.key() {
            Key::V4(key) => self.v4.get(&key),
            Key::V6(key) => self.v6.get(&key),
        };
        let slot = slot?.slot;
        Some(Token {
            slot,
            generation: self.slots[slot as usize].generation(),
        })
    }

    /// Marks a connection closed; adds the wakers of its streams to `wake`.
    pub(super) fn close(&mut self, token: Token, wake: &mut Vec<Waker>) {
        let Some(place) = self.slot_mut(token) else {
            return;
        };
        place.meta |= CLOSED;
        wake.extend(place.waker.take());
        if let Some(streams) = self.streams.remove(&token.slot) {
            wake.extend(streams.into_iter().map(|(_, waker)| waker));
        }
    }

    /// Adds the wakers of every stream to `wake`, leaving them registered.
    pub(super) fn wakers(&self, wake: &mut Vec<Waker>) {
        wake.extend(self.slots.iter().filter_map(|slot| slot.waker.clone()));
        for streams in self.streams.values() {
            wake.extend(streams.iter().map(|(_, waker)| waker.clone()));
        }
    }

    /// The connection's state; while it is open, `waker` is what its stream `stream` (0 on
    /// HTTP/1) is woken with.
    pub(super) fn poll(&mut self, token: Token, stream: u32, waker: &Waker) -> State {
        let Some(place) = self.slot_mut(token) else {
            return State::Gone;
        };
        if place.meta & CLOSED != 0 {
            return State::Closed;
        }
        if stream == 0 {
            match &mut place.waker {
                Some(current) => current.clone_from(waker),
                empty => *empty = Some(waker.clone()),
            }
        } else {
            let streams = self.streams.entry(token.slot).or_default();
            match streams.iter_mut().find(|(key, _)| *key == stream) {
                Some((_, current)) => current.clone_from(waker),
                None => streams.push((stream, waker.clone())),
            }
        }
        State::Open
    }

    /// Takes a stream's waker out when the stream ends, so that the table does not keep its task.
    pub(super) fn forget(&mut self, token: Token, stream: u32) -> Option<Waker> {
        let place = self.slot_mut(token)?;
        if stream == 0 {
            place.meta &= !TIMED;
            return place.waker.take();
        }
        let streams = self.streams.get_mut(&token.slot)?;
        let at = streams.iter().position(|(key, _)| *key == stream)?;
        let waker = streams.swap_remove(at).1;
        if streams.is_empty() {
            self.streams.remove(&token.slot);
        }
        Some(waker)
    }

    /// Drops the entries whose descriptor no longer is their connection's socket: closed by
    /// actix-web, reset by the client, or closed and reused. The streams of the entries it drops
    /// are added to `wake`: their client is gone.
    pub(super) fn sweep(&mut self, wake: &mut Vec<Waker>) {
        let peer_of = self.peer_of;
        let mut stale = Vec::new();
        self.v4.retain(|&key, place| {
            let keep = peer_of(place.fd) == Some(v4_addr(key));
            if !keep {
                stale.push(place.slot);
            }
            keep
        });
        self.v6.retain(|key, place| {
            let keep = peer_of(place.fd) == Some(v6_addr(key));
            if !keep {
                stale.push(place.slot);
            }
            keep
        });
        for slot in stale {
            self.release(slot, wake);
        }
        self.swept = self.in_use();
    }

    pub(super) fn in_use(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Frees a slot; its streams, added to `wake`, will find their watch gone.
    fn release(&mut self, slot: u32, wake: &mut Vec<Waker>) {
        let place = &mut self.slots[slot as usize];
        if place.meta & OPEN != 0 {
            let generation = (place.generation() + 1) % GENERATIONS;
            let old = std::mem::replace(
                place,
                Slot {
                    meta: generation << FLAGS,
                    due: 0,
                    waker: None,
                },
            );
            wake.extend(old.waker);
            if let Some(streams) = self.streams.remove(&slot) {
                wake.extend(streams.into_iter().map(|(_, waker)| waker));
            }
            self.free.push(slot);
        }
    }

    /// Starts (again) counting an HTTP/1 stream's silence: it is due a keep-alive comment at
    /// `due` (the worker clock's milliseconds). False if the connection is not here.
    pub(super) fn set_due(&mut self, token: Token, due: u64) -> bool {
        let Some(place) = self.slot_mut(token) else {
            return false;
        };
        place.due = due as u32;
        place.meta |= TIMED;
        if place.meta & QUEUED == 0 {
            place.meta |= QUEUED;
            self.timers.push(Reverse((due, token.to_u64())));
        }
        true
    }

    /// Whether the stream of `token` is due its keep-alive comment at `now`.
    pub(super) fn is_due(&self, token: Token, now: u64) -> bool {
        self.slots
            .get(token.slot as usize)
            .filter(|place| place.generation() == token.generation)
            .is_some_and(|place| place.meta & (OPEN | TIMED) == OPEN | TIMED && place.is_due(now))
    }

    /// When the earliest quiet stream is due.
    pub(super) fn next_due(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((due, _))| *due)
    }

    /// Adds the wakers of the streams due at `now` to `wake`; puts back those that wrote since.
    pub(super) fn expire(&mut self, now: u64, wake: &mut Vec<Waker>) {
        while let Some(&Reverse((due, token))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let token = Token::from_u64(token);
            let Some(place) = self.slot_mut(token) else {
                continue;
            };
            if place.meta & TIMED == 0 {
                place.meta &= !QUEUED;
            } else if place.is_due(now) {
                place.meta &= !QUEUED;
                wake.extend(place.waker.clone());
            } else {
                // Moved on by a write: back in at its new time, which is later than `now`.
                let later = now + u64::from(place.due.wrapping_sub(now as u32));
                self.timers.push(Reverse((later, token.to_u64())));
            }
        }
    }

    fn slot_mut(&mut self, token: Token) -> Option<&mut Slot> {
        let place = self.slots.get_mut(token.slot as usize)?;
        (place.meta & OPEN != 0 && place.generation() == token.generation).then_some(place)
    }
}

/// The peer of the socket a descriptor now names, if it names a connected socket.
fn current_peer(fd: RawFd) -> Option<SocketAddr> {
    use nix::sys::socket::{getpeername, SockaddrStorage};
    // A descriptor is a number: this one may since have been closed, or name another socket,
    // which is what the sweep asks. Reading a socket's peer changes nothing.
    let addr = getpeername::<SockaddrStorage>(fd).ok()?;
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::new(v6.ip(), v6.port(), 0, 0)))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::{Peer, State, Table, Token};

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Table {
        fn insert_ok(&mut self, peer: Peer, fd: std::os::fd::RawFd) -> Token {
            self.insert(peer, fd, &mut Vec::new())
                .expect("the connection is entered")
        }
    }

    /// A table whose sweeps find every descriptor closed.
    fn table() -> Table {
        Table::with_peer_of(|_| None)
    }

    fn peer(port: u16) -> Peer {
        Peer::new(SocketAddr::from(([127, 0, 0, 1], port)), 8080)
    }

    #[test]
    fn a_token_survives_the_queue_and_a_reused_slot_is_not_mistaken_for_the_old_one() {
        let mut table = table();
        let first = table.insert_ok(peer(1000), 10);
        assert_eq!(Token::from_u64(first.to_u64()), first);
        assert!(first.to_u64() < 1 << 63, "kqueue's user data is signed");
        table.remove(&peer(1000), first);
        let second = table.insert_ok(peer(1001), 11);
        assert_eq!(second.slot, first.slot, "the slot is reused");
        assert_ne!(second, first);
        let waker = Waker::noop();
        assert!(matches!(table.poll(first, 0, waker), State::Gone));
        assert!(matches!(table.poll(second, 0, waker), State::Open));
    }

    #[test]
    fn a_new_connection_from_the_same_address_replaces_the_old_entry() {
        let mut table = table();
        let old = table.insert_ok(peer(1000), 10);
        let new = table.insert_ok(peer(1000), 12);
        assert_eq!(table.in_use(), 1);
        assert_eq!(table.find(&peer(1000)), Some(new));
        assert!(matches!(table.poll(old, 0, Waker::noop()), State::Gone));
    }

    #[test]
    fn closing_wakes_every_stream_of_the_connection_once() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut table = table();
        let token = table.insert_ok(peer(1000), 10);
        assert!(matches!(table.poll(token, 0, &waker), State::Open));
        assert!(matches!(table.poll(token, 7, &waker), State::Open));
        assert!(matches!(table.poll(token, 8, &waker), State::Open));
        let mut wake = Vec::new();
        table.close(token, &mut wake);
        assert_eq!(wake.len(), 3);
        wake.into_iter().for_each(Waker::wake);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(matches!(table.poll(token, 0, &waker), State::Closed));
        let mut again = Vec::new();
        table.close(token, &mut again);
        assert!(again.is_empty(), "a second close has no one left to wake");
    }

    #[test]
    fn a_live_connection_keeps_its_entry_against_a_newcomer_from_the_same_address() {
        // Descriptor 10 is still open with the peer: the same client and port reached this port
        // on another local address. The first connection stays watched, the second goes without.
        let mut table = Table::with_peer_of(|fd| (fd == 10).then(|| peer(1000).addr));
        let first = table.insert_ok(peer(1000), 10);
        assert_eq!(table.insert(peer(1000), 12, &mut Vec::new()), None);
        assert_eq!(table.find(&peer(1000)), Some(first));
        // The same descriptor again means the first socket was closed and its number reused.
        let again = table.insert_ok(peer(1000), 10);
        assert_ne!(again, first);
        // A client that left (its close seen) makes room at once, socket open or not.
        table.close(again, &mut Vec::new());
        let after = table.insert_ok(peer(1000), 12);
        assert_eq!(table.find(&peer(1000)), Some(after));
    }

    #[test]
    fn a_stream_whose_entry_is_swept_is_woken_and_finds_its_connection_gone() {
        // A client that resets its connection leaves a socket with no peer: if a sweep comes
        // before the queue's news, the stream must still learn that its client left.
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut table = table();
        let token = table.insert_ok(peer(1000), 10);
        assert!(matches!(table.poll(token, 0, &waker), State::Open));
        let mut wake = Vec::new();
        table.sweep(&mut wake);
        assert_eq!(wake.len(), 1);
        wake.into_iter().for_each(Waker::wake);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(matches!(table.poll(token, 0, &waker), State::Gone));
        let mut again = Vec::new();
        table.close(token, &mut again);
        assert!(again.is_empty(), "the queue's late news changes nothing");
    }

    #[test]
    fn a_finished_stream_leaves_no_waker_behind() {
        let mut table = table();
        let token = table.insert_ok(peer(1000), 10);
        let _ = table.poll(token, 0, Waker::noop());
        let _ = table.poll(token, 5, Waker::noop());
        assert!(table.forget(token, 0).is_some());
        assert!(table.forget(token, 5).is_some());
        let mut wake = Vec::new();
        table.wakers(&mut wake);
        assert!(wake.is_empty());
    }

    #[test]
    fn a_sweep_drops_the_entries_whose_descriptor_has_another_peer_or_none() {
        let mut table = table();
        let live = table.insert_ok(peer(1000), 10);
        let reused = table.insert_ok(peer(1001), 11);
        let closed = table.insert_ok(peer(1002), 12);
        table.peer_of = |fd| match fd {
            10 => Some(peer(1000).addr),
            11 => Some(peer(4242).addr),
            _ => None,
        };
        table.sweep(&mut Vec::new());
        assert_eq!(table.in_use(), 1);
        assert_eq!(table.find(&peer(1000)), Some(live));
        assert_eq!(table.find(&peer(1001)), None);
        assert!(matches!(table.poll(reused, 0, Waker::noop()), State::Gone));
        assert!(matches!(table.poll(closed, 0, Waker::noop()), State::Gone));
    }

    #[test]
    fn the_kernel_tells_the_sweep_which_sockets_are_still_their_connection() {
        use std::os::fd::AsRawFd;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, from) = listener.accept().unwrap();
        let mut table = Table::default();
        let peer = Peer::new(from, listener.local_addr().unwrap().port());
        let token = table.insert_ok(peer, server.as_raw_fd());
        table.sweep(&mut Vec::new());
        assert_eq!(table.find(&peer), Some(token), "an open socket is kept");
        drop(server);
        table.sweep(&mut Vec::new());
        assert_eq!(table.find(&peer), None, "a closed one is swept");
    }

    #[test]
    fn ipv6_peers_and_local_ports_are_told_apart() {
        fn v6(port: u16, local: u16) -> Peer {
            Peer::new(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port)), local)
        }
        let mut table = table();
        let a = table.insert_ok(v6(1000, 80), 10);
        let b = table.insert_ok(v6(1000, 443), 11);
        let c = table.insert_ok(peer(1000), 12);
        assert_eq!(table.in_use(), 3);
        assert_eq!(table.find(&v6(1000, 80)), Some(a));
        assert_eq!(table.find(&v6(1000, 443)), Some(b));
        assert_eq!(table.find(&peer(1000)), Some(c));
        table.peer_of = |fd| (fd == 11).then(|| v6(1000, 443).addr);
        table.sweep(&mut Vec::new());
        assert_eq!(table.in_use(), 1);
        assert_eq!(table.find(&v6(1000, 443)), Some(b));
    }

    #[test]
    fn a_quiet_stream_is_due_once_its_time_comes_and_a_write_puts_it_off() {
        let count = Arc::new(Count(Default::default()));
        let waker = Waker::from(count.clone());
        let mut table = table();
        let token = table.insert_ok(peer(1000), 10);
        let _ = table.poll(token, 0, &waker);
        assert!(table.set_due(token, 5_000));
        assert_eq!(table.next_due(), Some(5_000));
        assert!(!table.is_due(token, 4_999));
        // A write at 3 s puts the comment off to 8 s: the entry due at 5 s comes back for 8 s.
        assert!(table.set_due(token, 8_000));
        let mut wake = Vec::new();
        table.expire(5_000, &mut wake);
        assert!(wake.is_empty(), "not due: it wrote since");
        assert_eq!(table.next_due(), Some(8_000));
        table.expire(8_000, &mut wake);
        assert_eq!(wake.len(), 1);
        assert!(table.is_due(token, 8_000));
        assert_eq!(table.next_due(), None);
        // The clock's milliseconds wrap at 2^32 in a slot; the comparison does not.
        let late = u64::from(u32::MAX) + 10;
        assert!(table.set_due(token, late));
        assert!(!table.is_due(token, late - 20));
        assert!(table.is_due(token, late));
    }

    #[test]
    fn stale_entries_are_swept_as_the_table_grows() {
        let mut table = table();
        // Descriptor -1 is never a socket, so every entry is stale to the real sweep.
        for port in 0..1000 {
            table.insert_ok(peer(port), -1);
        }
        assert!(
            table.in_use() < 200,
            "{} entries kept of 1000 stale ones",
            table.in_use()
        );
    }
}
