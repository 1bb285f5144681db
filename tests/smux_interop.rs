//! Interop of `ssm-mux` with xtaci/smux v1.5.16 (the library of the Session
//! Manager plugin and agent) over a real TCP connection on 127.0.0.1.
//!
//! The Go side is `tests/go/smux-peer`; build it with
//! `tests/go/build-smux-peer.sh /path/to/smux-peer` and point `SMUX_GO_PEER`
//! at the binary. Per stream, the opener sends an 8-byte little-endian length
//! and that many bytes; the acceptor echoes them and then closes (FIN); the
//! opener checks the echo and the EOF, then closes.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ssm_mux::{Config, ReadOutcome, Role, Session, StreamId};

const STREAMS: usize = 8;
const PAYLOAD_BYTES: usize = 200_000;
const DEADLINE: Duration = Duration::from_secs(60);
/// Most transport bytes buffered in either direction by the test driver.
const MAX_BUFFERED: usize = 256 * 1024;

fn go_peer() -> PathBuf {
    match std::env::var_os("SMUX_GO_PEER").filter(|path| !path.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "SMUX_GO_PEER is not set: build the Go peer with \
             `tests/go/build-smux-peer.sh /tmp/smux-peer` and run with \
             SMUX_GO_PEER=/tmp/smux-peer"
        ),
    }
}

/// AWS Session Manager settings: smux defaults with keepalive disabled.
fn session(role: Role) -> Session {
    let config = Config {
        keep_alive: None,
        ..Config::default()
    };
    Session::new(role, config, Instant::now()).expect("valid config")
}

/// A deterministic xorshift payload.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// A blocking-free driver: a nonblocking socket pumped into a `Session`.
struct Driver {
    socket: TcpStream,
    session: Session,
    inbound: Vec<u8>,
    outbound: Vec<u8>,
    peer_closed: bool,
}

impl Driver {
    fn new(socket: TcpStream, role: Role) -> Self {
        socket.set_nonblocking(true).expect("nonblocking socket");
        socket.set_nodelay(true).expect("nodelay");
        Self {
            socket,
            session: session(role),
            inbound: Vec::new(),
            outbound: Vec::new(),
            peer_closed: false,
        }
    }

    /// Moves bytes both ways once; returns whether anything moved.
    fn turn(&mut self) -> bool {
        let mut progress = false;
        while self.outbound.len() < MAX_BUFFERED {
            let Some(frame) = self.session.poll_transmit() else {
                break;
            };
            self.outbound.extend_from_slice(&frame);
        }
        progress |= self.write_socket();
        progress |= self.read_socket();
        if !self.inbound.is_empty() {
            let used = self
                .session
                .handle_input(&self.inbound)
                .expect("smux session error");
            self.inbound.drain(..used);
            progress |= used > 0;
        }
        if self.peer_closed && self.inbound.is_empty() && self.session.dead_reason().is_none() {
            self.session.handle_transport_closed();
        }
        while self.session.poll_event().is_some() {}
        progress
    }

    fn write_socket(&mut self) -> bool {
        let mut progress = false;
        while !self.outbound.is_empty() {
            match self.socket.write(&self.outbound) {
                Ok(n) => {
                    self.outbound.drain(..n);
                    progress = true;
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) => panic!("socket write failed: {err}"),
            }
        }
        progress
    }

    fn read_socket(&mut self) -> bool {
        if self.peer_closed || self.inbound.len() >= MAX_BUFFERED {
            return false;
        }
        let mut buf = [0; 64 * 1024];
        match self.socket.read(&mut buf) {
            Ok(0) => self.peer_closed = true,
            Ok(n) => self.inbound.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(err) => panic!("socket read failed: {err}"),
        }
        true
    }

    /// Turns until `app` reports completion, sleeping briefly when idle.
    fn run_until(&mut self, what: &str, mut app: impl FnMut(&mut Session) -> bool) {
        let start = Instant::now();
        loop {
            let done = app(&mut self.session);
            let moved = self.turn();
            if done && self.outbound.is_empty() && self.session.poll_transmit().is_none() {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{what}: timed out, stats {:?}",
                self.session.stats()
            );
            if !moved {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Our side of a stream we opened: send prefix + payload, check the echo.
struct Opener {
    sid: StreamId,
    wire: Vec<u8>,
    written: usize,
    echoed: Vec<u8>,
    eof: bool,
    closed: bool,
}

impl Opener {
    fn new(sid: StreamId, data: &[u8]) -> Self {
        let mut wire = (data.len() as u64).to_le_bytes().to_vec();
        wire.extend_from_slice(data);
        Self {
            sid,
            wire,
            written: 0,
            echoed: Vec::new(),
            eof: false,
            closed: false,
        }
    }

    fn step(&mut self, session: &mut Session) {
        if self.closed {
            return;
        }
        while self.written < self.wire.len() {
            let end = self.wire.len().min(self.written + 16 * 1024);
            let accepted = session
                .write(self.sid, &self.wire[self.written..end])
                .expect("write");
            self.written += accepted;
            if accepted == 0 {
                break;
            }
        }
        let mut buf = [0; 64 * 1024];
        while !self.eof {
            match session.read(self.sid, &mut buf).expect("read") {
                ReadOutcome::Data(n) => self.echoed.extend_from_slice(&buf[..n]),
                ReadOutcome::Eof => self.eof = true,
                ReadOutcome::WouldBlock => break,
            }
        }
        if self.eof && self.written == self.wire.len() {
            assert!(
                self.echoed == self.wire[8..],
                "stream {}: echo differs",
                self.sid
            );
            session.close(self.sid).expect("close");
            self.closed = true;
        }
    }
}

/// Our side of a stream the peer opened: echo exactly the announced length.
struct Echoer {
    sid: StreamId,
    prefix: Vec<u8>,
    received: usize,
    pending: Vec<u8>,
    sent: usize,
    closed: bool,
}

impl Echoer {
    fn new(sid: StreamId) -> Self {
        Self {
            sid,
            prefix: Vec::new(),
            received: 0,
            pending: Vec::new(),
            sent: 0,
            closed: false,
        }
    }

    /// The announced payload length, once the 8-byte prefix is complete.
    fn expected(&self) -> Option<usize> {
        let prefix: [u8; 8] = self.prefix.as_slice().try_into().ok()?;
        Some(usize::try_from(u64::from_le_bytes(prefix)).expect("length fits"))
    }

    fn step(&mut self, session: &mut Session) {
        if self.closed {
            return;
        }
        let mut buf = [0; 16 * 1024];
        while self.expected().is_none() {
            let want = 8 - self.prefix.len();
            match session.read(self.sid, &mut buf[..want]).expect("read") {
                ReadOutcome::Data(n) => self.prefix.extend_from_slice(&buf[..n]),
                ReadOutcome::WouldBlock => return,
                ReadOutcome::Eof => panic!("stream {}: EOF inside the prefix", self.sid),
            }
        }
        let expected = self.expected().unwrap_or_default();
        while self.echo_some(session, &mut buf, expected) {}
        if self.sent == expected {
            session.close(self.sid).expect("close");
            self.closed = true;
        }
    }

    /// Writes pending bytes, then reads more; returns whether to go on.
    fn echo_some(&mut self, session: &mut Session, buf: &mut [u8], expected: usize) -> bool {
        let accepted = session.write(self.sid, &self.pending).expect("write");
        self.pending.drain(..accepted);
        self.sent += accepted;
        if !self.pending.is_empty() || self.received == expected {
            return false;
        }
        let want = buf.len().min(expected - self.received);
        match session.read(self.sid, &mut buf[..want]).expect("read") {
            ReadOutcome::Data(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.received += n;
                true
            }
            ReadOutcome::WouldBlock => false,
            ReadOutcome::Eof => panic!("stream {}: EOF after {} bytes", self.sid, self.received),
        }
    }
}

/// Starts the Go peer with `args`; stdout is piped, stderr inherited.
fn spawn_go_peer(args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(go_peer())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Go smux peer (SMUX_GO_PEER)");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    (child, stdout)
}

/// Waits for the Go peer, asserts success and returns its remaining output.
fn finish_go_peer(mut child: Child, mut stdout: BufReader<ChildStdout>) -> String {
    let mut output = String::new();
    stdout.read_to_string(&mut output).expect("Go peer output");
    let status = child.wait().expect("wait for the Go peer");
    assert!(
        status.success(),
        "Go peer failed ({status}); output:\n{output}"
    );
    output.trim().to_owned()
}

fn expected_ids() -> Vec<u32> {
    (0..STREAMS)
        .map(|i| 3 + 2 * u32::try_from(i).unwrap())
        .collect()
}

#[test]
#[ignore = "needs the Go smux peer; run by .ci/run"]
fn go_server_echoes_streams_opened_by_ssm_mux_client() {
    let streams = STREAMS.to_string();
    let (child, mut stdout) = spawn_go_peer(&["server", "-streams", &streams]);
    let mut port = String::new();
    stdout.read_line(&mut port).expect("port line");
    let port: u16 = port.trim().parse().expect("Go server prints its port");
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect to the Go server");
    let mut driver = Driver::new(socket, Role::Client);

    let mut openers: Vec<Opener> = (0..STREAMS)
        .map(|i| {
            let sid = driver.session.open().expect("open");
            Opener::new(sid, &payload(i as u64 + 1, PAYLOAD_BYTES))
        })
        .collect();
    driver.run_until("rust client", |session| {
        openers.iter_mut().for_each(|opener| opener.step(session));
        openers.iter().all(|opener| opener.closed)
    });
    let stats = driver.session.stats();
    driver.socket.shutdown(Shutdown::Both).expect("shutdown");
    let go_summary = finish_go_peer(child, stdout);

    let ids: Vec<u32> = openers.iter().map(|opener| opener.sid.0).collect();
    assert_eq!(ids, expected_ids());
    println!("{go_summary}");
    println!(
        "interop OK: ssm-mux client -> Go smux server: {STREAMS} streams x {PAYLOAD_BYTES} bytes \
         echoed byte-exact, EOF seen on each, stream ids {ids:?}; {stats:?}"
    );
}

#[test]
#[ignore = "needs the Go smux peer; run by .ci/run"]
fn go_client_streams_are_echoed_by_ssm_mux_server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener
        .local_addr()
        .expect("local addr")
        .port()
        .to_string();
    let (streams, bytes) = (STREAMS.to_string(), PAYLOAD_BYTES.to_string());
    let args = [
        "client", "-port", &port, "-streams", &streams, "-bytes", &bytes,
    ];
    let (child, stdout) = spawn_go_peer(&args);
    let (socket, _) = listener.accept().expect("accept the Go client");
    let mut driver = Driver::new(socket, Role::Server);

    let mut echoers: Vec<Echoer> = Vec::new();
    driver.run_until("rust server", |session| {
        while let Some(sid) = session.accept() {
            echoers.push(Echoer::new(sid));
        }
        echoers.iter_mut().for_each(|echoer| echoer.step(session));
        let peer_closed = session.dead_reason().is_some();
        peer_closed && echoers.iter().all(|echoer| echoer.closed)
    });
    let stats = driver.session.stats();
    let go_summary = finish_go_peer(child, stdout);

    let mut ids: Vec<u32> = echoers.iter().map(|echoer| echoer.sid.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, expected_ids());
    assert!(echoers.iter().all(|echoer| echoer.sent == PAYLOAD_BYTES));
    println!("{go_summary}");
    println!(
        "interop OK: Go smux client -> ssm-mux server: {} streams x {PAYLOAD_BYTES} bytes echoed, \
         FIN sent after each echo, stream ids {ids:?}; {stats:?}",
        echoers.len()
    );
}
