//! Criterion micro-benchmarks of the data-channel message codec: encode
//! (header, message id, SHA-256 digest) and decode with the digest check,
//! for a small request and a full 1024-byte data payload.
//!
//! `cargo bench -p ssm-proto`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ssm_proto::message::{ClientMessage, MessageType, PayloadType};
use uuid::Uuid;

/// Payload sizes: a small request and the plugin's 1024-byte chunk.
const SIZES: [usize; 2] = [64, 1024];

fn message(size: usize) -> ClientMessage {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    ClientMessage::new(
        MessageType::InputStreamData,
        1_700_000_000_000,
        42,
        0,
        Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        PayloadType::Output,
        Bytes::from(payload),
    )
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("message encode");
    for size in SIZES {
        let message = message(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &message, |b, message| {
            b.iter(|| black_box(message).encode())
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("message decode with digest check");
    for size in SIZES {
        let frame = message(size).encode();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &frame, |b, frame| {
            b.iter(|| ClientMessage::decode(black_box(frame)).expect("valid frame"))
        });
    }
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
