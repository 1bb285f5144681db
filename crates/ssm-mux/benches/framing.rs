//! Criterion micro-benchmarks of smux v1 framing: the frame codec alone,
//! and a whole client-to-server pass through two sessions (write, frames
//! out, frames in, read).
//!
//! `cargo bench -p ssm-mux`

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ssm_mux::frame::{Cmd, Frame, FrameHeader};
use ssm_mux::{Config, Event, ReadOutcome, Role, Session, StreamId};

/// Payload sizes: a small request, the plugin's 1024-byte read and a
/// large write.
const SIZES: [usize; 3] = [64, 1024, 32 * 1024];

fn frame_bytes(size: usize) -> Vec<u8> {
    let payload = vec![0x5a; size];
    let header = FrameHeader::new(Cmd::Psh, StreamId(3), size as u16);
    let mut out = Vec::with_capacity(size + 8);
    Frame {
        header,
        payload: &payload,
    }
    .encode(&mut out);
    out
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("smux frame encode");
    for size in SIZES {
        let payload = vec![0x5a; size];
        let header = FrameHeader::new(Cmd::Psh, StreamId(3), size as u16);
        let mut out = Vec::with_capacity(size + 8);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                out.clear();
                Frame {
                    header,
                    payload: black_box(&payload),
                }
                .encode(&mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("smux frame decode");
    for size in SIZES {
        let bytes = frame_bytes(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &bytes, |b, bytes| {
            b.iter(|| Frame::decode(black_box(bytes)).expect("whole frame"))
        });
    }
    group.finish();
}

/// A client and a server session with one open stream.
struct Pair {
    client: Session,
    server: Session,
    client_sid: StreamId,
    server_sid: StreamId,
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        let mut client = Session::new(Role::Client, Config::default(), now).expect("config");
        let mut server = Session::new(Role::Server, Config::default(), now).expect("config");
        let client_sid = client.open().expect("open");
        while let Some(frame) = client.poll_transmit() {
            server.handle_input(&frame).expect("syn");
        }
        assert_eq!(server.poll_event(), Some(Event::IncomingStream));
        let server_sid = server.accept().expect("accepted");
        Self {
            client,
            server,
            client_sid,
            server_sid,
        }
    }

    /// Moves `data` from the client stream to the server stream.
    fn pass(&mut self, data: &[u8], buffer: &mut [u8]) {
        let mut written = 0;
        while written < data.len() {
            written += self
                .client
                .write(self.client_sid, &data[written..])
                .expect("write");
            while let Some(frame) = self.client.poll_transmit() {
                self.server.handle_input(&frame).expect("input");
            }
            while let ReadOutcome::Data(n @ 1..) =
                self.server.read(self.server_sid, buffer).expect("read")
            {
                black_box(&buffer[..n]);
            }
            while self.server.poll_event().is_some() {}
            while self.server.poll_transmit().is_some() {}
        }
    }
}

fn session_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("smux session write-transmit-input-read");
    for size in SIZES {
        let data = vec![0x5a; size];
        let mut buffer = vec![0; 64 * 1024];
        let mut pair = Pair::new();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| pair.pass(black_box(&data), &mut buffer))
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode, session_pass);
criterion_main!(benches);
